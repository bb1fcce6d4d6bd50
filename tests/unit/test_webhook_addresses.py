"""The webhook address rules (decisions only: nothing here connects). An address is allowed only when the standard
library calls it global and so is every IPv4 address it embeds; deprecated site-local is refused explicitly."""
import pytest

from nestbackup.decisions.webhooks import literal_address_refusal, refused_address

INSIDE = [
    "127.0.0.1", "10.0.0.5", "192.168.1.1", "172.16.0.1", "169.254.169.254", "100.100.100.200", "0.0.0.0",
    "::1", "::", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "2001:db8::1",
    "fec0::1", "fec0:0:0:1::5", "feff:ffff::1",                  # site-local (deprecated; is_global on 3.10/3.11)
    "::ffff:127.0.0.1", "::ffff:10.0.0.5", "::ffff:100.100.100.200",      # IPv4-mapped
    "::10.0.0.5", "::127.0.0.1", "::8.8.8.8",                           # IPv4-compatible (deprecated)
    "2002:a00:5::1", "2002:7f00:1::", "2002:a9fe:a9fe::1", "2002:6464:64c8::1",   # 6to4 of private IPv4
    "2001:0:4136:e378:8000:63bf:f5ff:fffe", "2001:0:4136:e378:8000:63bf:3fff:fdd2",   # Teredo
    "64:ff9b::a00:5", "64:ff9b::7f00:1", "64:ff9b::6464:64c8",          # NAT64 well-known prefix
    "64:ff9b:1::a00:5", "64:ff9b:1:ffff::1",                            # NAT64 local-use
    "ff02::1", "ff0e::1", "224.0.0.1", "255.255.255.255", "240.0.0.1",
]


@pytest.mark.parametrize("address", INSIDE)
def test_an_address_that_is_not_global_or_embeds_one_that_is_not_is_refused(address):
    reason = refused_address(address)
    assert reason, address
    assert literal_address_refusal(f"[{address}]" if ":" in address else address), address


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2001:4860:4860::8888",
                                     "::ffff:8.8.8.8", "2002:808:808::1"])
def test_a_global_address_is_allowed(address):
    assert refused_address(address) is None


@pytest.mark.parametrize("address", ["10.0.0.5", "::1", "fec0::1", "2002:a00:5::1", "::ffff:192.168.1.1",
                                     "fd00::1", "100.100.100.200"])
def test_the_admin_may_allow_private_targets(address):
    assert refused_address(address, allow_private=True) is None


@pytest.mark.parametrize("address", ["::", "0.0.0.0", "ff02::1", "224.0.0.1", "2002:e000:1::1"])
def test_an_address_that_is_not_unicast_is_refused_even_when_private_ones_are_allowed(address):
    assert refused_address(address, allow_private=True)


def test_names_are_left_to_the_check_after_resolution():
    assert literal_address_refusal("hooks.example.com") is None
    assert refused_address("hooks.example.com") == "hooks.example.com is not an IP address"
