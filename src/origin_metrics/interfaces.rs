//! Which network interfaces the origin's in/out rates add up.
//!
//! Summing every device double-counts: a packet leaving a container crosses its veth, a
//! bridge and the physical NIC, and each counts it. By default only interfaces that are
//! not loopback and not one of the well-known virtual kinds are summed; an explicit
//! `-origin-metrics-interfaces eth0,ens3` (a trailing `*` matches a prefix) chooses
//! exactly instead.

use std::fmt;

/// Name prefixes of virtual devices excluded by default: loopback, container and VM
/// plumbing, overlays, VPNs and tunnels.
pub const VIRTUAL_PREFIXES: &[&str] = &[
    "veth",
    "docker",
    "br-",
    "virbr",
    "tap",
    "tun",
    "vnet",
    "cni",
    "flannel",
    "cali",
    "wg",
    "vxlan",
    "genev",
    "kube-",
    "cilium",
    "lxc",
    "lxd",
    "weave",
    "datapath",
    "tailscale",
    "zt",
    "ifb",
    "dummy",
    "gre",
    "gretap",
    "erspan",
    "ip6gre",
    "ip6tnl",
    "ipip",
    "sit",
    "nlmon",
    "podman",
    "cni-podman",
    "vmnet",
    "vboxnet",
    "utun",
    "nebula",
    "ovs-system",
];

/// An interface selection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum InterfaceFilter {
    /// Everything except `lo` and [`VIRTUAL_PREFIXES`].
    #[default]
    Physical,
    /// Exactly these names (an entry ending in `*` matches by prefix).
    Only(Vec<String>),
}

impl InterfaceFilter {
    /// Parse `-origin-metrics-interfaces`: comma-separated names, `*` suffix = prefix.
    pub fn parse(list: &str) -> Result<Self, String> {
        let names: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if names.is_empty() {
            return Err(format!(
                "-origin-metrics-interfaces: '{list}' names no interface (e.g. -origin-metrics-interfaces eth0,ens3)"
            ));
        }
        for n in &names {
            let stem = n.strip_suffix('*').unwrap_or(n);
            if stem.contains('*')
                || n.len() > 64
                || n.chars().any(|c| c.is_whitespace() || c == '/' || c == '"')
            {
                return Err(format!(
                    "-origin-metrics-interfaces: '{n}' is not an interface name (a trailing * matches a prefix: eth*)"
                ));
            }
        }
        Ok(InterfaceFilter::Only(names))
    }

    /// Whether `device` is summed.
    pub fn selects(&self, device: &str) -> bool {
        match self {
            InterfaceFilter::Physical => {
                device != "lo" && !VIRTUAL_PREFIXES.iter().any(|p| device.starts_with(p))
            }
            InterfaceFilter::Only(names) => names.iter().any(|n| match n.strip_suffix('*') {
                Some(prefix) => device.starts_with(prefix),
                None => device == n,
            }),
        }
    }
}

impl fmt::Display for InterfaceFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InterfaceFilter::Physical => f.write_str("all but loopback and virtual"),
            InterfaceFilter::Only(n) => f.write_str(&n.join(",")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_excludes_loopback_and_virtual_devices() {
        let f = InterfaceFilter::default();
        for d in ["eth0", "ens3", "enp0s31f6", "eno1", "wlan0", "bond0", "br0"] {
            assert!(f.selects(d), "{d} should be summed");
        }
        for d in [
            "lo",
            "veth1a2b",
            "docker0",
            "br-5f2c",
            "virbr0",
            "tap0",
            "tun0",
            "vnet3",
            "cni0",
            "flannel.1",
            "cali123",
            "wg0",
            "vxlan.calico",
            "tailscale0",
            "ifb0",
            "kube-ipvs0",
            "cilium_host",
            "lxcbr0",
        ] {
            assert!(!f.selects(d), "{d} should be excluded");
        }
    }

    #[test]
    fn explicit_list_and_prefix() {
        let f = InterfaceFilter::parse("eth0, ens*").unwrap_or_else(|e| panic!("{e}"));
        assert!(f.selects("eth0"));
        assert!(f.selects("ens3"));
        assert!(!f.selects("eth1"));
        // Explicit choice may include what the default excludes.
        let lo = InterfaceFilter::parse("lo").unwrap_or_else(|e| panic!("{e}"));
        assert!(lo.selects("lo"));
        assert_eq!(lo.to_string(), "lo");
    }

    #[test]
    fn bad_lists_are_rejected() {
        assert!(InterfaceFilter::parse(" , ").is_err());
        assert!(InterfaceFilter::parse("e*th").is_err());
        assert!(InterfaceFilter::parse("eth 0").is_err());
    }
}
