//! The `KIND:KEY=VALUE,…` syntax the distribution flags share (`--viewer-bandwidth`,
//! `--session-duration`) and the normal draw behind their `lognormal` models: one
//! parser, so both flags accept and refuse the same shapes in the same words.

/// A distribution flag's value that names its model: `KIND:PARAMS`.
pub(crate) struct DistSpec<'a> {
    /// The model's name (`fixed`, `lognormal`, …), trimmed.
    pub kind: &'a str,
    /// Everything after the colon, as given (the value of a `fixed:` model).
    pub params: &'a str,
    /// `KEY=VALUE` pairs of the other models, trimmed, in the order given.
    fields: Vec<(&'a str, &'a str)>,
}

impl<'a> DistSpec<'a> {
    /// `Ok(None)` for a bare value (no `KIND:`). Errors say what is wrong, without the
    /// flag's name (the caller adds it).
    pub fn parse(text: &'a str) -> Result<Option<DistSpec<'a>>, String> {
        let Some((kind, params)) = text.split_once(':') else {
            return Ok(None);
        };
        let kind = kind.trim();
        let mut fields = Vec::new();
        if kind != "fixed" {
            for p in params.split(',') {
                let (k, v) = p
                    .split_once('=')
                    .ok_or_else(|| format!("has '{}', not KEY=VALUE", p.trim()))?;
                fields.push((k.trim(), v.trim()));
            }
        }
        Ok(Some(DistSpec {
            kind,
            params,
            fields,
        }))
    }

    /// The value of `key`, which must be given exactly once.
    pub fn get(&self, key: &str) -> Result<&'a str, String> {
        let mut found = self.fields.iter().filter(|(k, _)| *k == key);
        match (found.next(), found.next()) {
            (Some((_, v)), None) => Ok(v),
            (None, _) => Err(format!("misses {key}=")),
            (Some(_), Some(_)) => Err(format!("gives {key}= twice")),
        }
    }

    /// Refuses any key not in `keys`.
    pub fn only(&self, keys: &[&str]) -> Result<(), String> {
        match self.fields.iter().find(|(k, _)| !keys.contains(k)) {
            Some((k, _)) => Err(format!("has an unknown key '{k}'")),
            None => Ok(()),
        }
    }

    /// `sigma=`, a finite number in `0..=max`.
    pub fn sigma(&self, max: f64) -> Result<f64, String> {
        let text = self.get("sigma")?;
        text.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && (0.0..=max).contains(v))
            .ok_or_else(|| format!("has sigma={text}, not a number between 0 and {max}"))
    }
}

/// One standard normal draw from two uniforms in (0, 1) (Box–Muller).
pub(crate) fn standard_normal(u1: f64, u2: f64) -> f64 {
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_split_into_kind_and_keys() {
        assert!(DistSpec::parse("8M").unwrap().is_none());
        let f = DistSpec::parse(" fixed : 30m").unwrap().unwrap();
        assert_eq!((f.kind, f.params), ("fixed", " 30m"));
        let s = DistSpec::parse("lognormal:median=5m, sigma=1")
            .unwrap()
            .unwrap();
        assert_eq!(s.kind, "lognormal");
        assert_eq!(s.get("median"), Ok("5m"));
        assert_eq!(s.sigma(5.0), Ok(1.0));
        assert_eq!(s.only(&["median", "sigma"]), Ok(()));
        assert_eq!(
            s.only(&["median"]),
            Err("has an unknown key 'sigma'".into())
        );
        assert_eq!(s.get("mean"), Err("misses mean=".into()));
        let twice = DistSpec::parse("exp:mean=1m,mean=2m").unwrap().unwrap();
        assert_eq!(twice.get("mean"), Err("gives mean= twice".into()));
        assert_eq!(
            DistSpec::parse("exp:10m").err(),
            Some("has '10m', not KEY=VALUE".into())
        );
        for bad in ["x", "-1", "6", "inf", "NaN"] {
            let text = format!("lognormal:median=1m,sigma={bad}");
            let s = DistSpec::parse(&text).unwrap().unwrap();
            assert!(s.sigma(5.0).is_err(), "sigma={bad}");
        }
    }

    #[test]
    fn the_normal_draw_is_box_muller() {
        assert_eq!(standard_normal(std::f64::consts::E.powf(-0.5), 0.0), 1.0);
        assert!(standard_normal(0.5, 0.25).abs() < 1e-12, "cos(π/2) = 0");
    }
}
