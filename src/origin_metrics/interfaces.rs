//! Which network interfaces the origin's in/out rates add up.
//!
//! Summing every device double-counts: a packet leaving a container crosses its veth, a
//! bridge and the physical NIC, and each counts it. By default only interfaces that are
//! not loopback and not one of the well-known virtual kinds are summed; an explicit
//! `-origin-metrics-interfaces eth0,ens3` (a trailing `*` matches a prefix) chooses
//! exactly instead. The selection itself is configuration ([`InterfaceFilter`], parsed
//! with the flags); what it selects is decided here.

use crate::config::InterfaceFilter;

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

impl InterfaceFilter {
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
