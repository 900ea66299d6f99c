#!/usr/bin/python3
"""Sends crafted frames with Scapy (Debian's python3-scapy) for the
external-generator integration tests, then prints how long sending took (s).

usage: scapy_flood.py IFACE DST_MAC KIND COUNT DST
  spoofed:   UDP from COUNT random sources in 198.18.0.0/15
  vlan:      UDP from <DST's /24>.1 in one 802.1Q tag (VLAN 10)
  qinq:      the same in an 802.1ad tag (100) around an 802.1Q tag (10)
  truncated: TCP SYNs whose TCP header is cut short (IP total length agrees)
  tinyfrag:  first fragments too small for their TCP header (RFC 1858)
"""
import sys
import time

from scapy.all import IP, TCP, UDP, Dot1AD, Dot1Q, Ether, RandIP, conf, raw, sendp

conf.verb = 0
iface, mac, kind, count, dst = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
src = dst.rsplit(".", 1)[0] + ".1"
udp = UDP(sport=40000, dport=9000) / (b"x" * 32)

if kind == "spoofed":
    frames = [Ether(dst=mac) / IP(src=RandIP("198.18.0.0/15"), dst=dst) / udp for _ in range(count)]
elif kind == "vlan":
    frames = [Ether(dst=mac) / Dot1Q(vlan=10) / IP(src=src, dst=dst) / udp] * count
elif kind == "qinq":
    frames = [Ether(dst=mac) / Dot1AD(vlan=100) / Dot1Q(vlan=10) / IP(src=src, dst=dst) / udp] * count
elif kind == "truncated":
    whole = raw(IP(src=src, dst=dst) / TCP(dport=9000, flags="S"))
    cut = whole[:28]  # 20 bytes of IP, 8 of TCP
    frames = [Ether(dst=mac) / IP(cut[:2] + len(cut).to_bytes(2, "big") + cut[4:])] * count
elif kind == "tinyfrag":
    frames = [Ether(dst=mac) / IP(src=src, dst=dst, flags="MF", frag=0, proto=6) /
              b"\x9c\x40\x23\x28\0\0\0\0"] * count
else:
    sys.exit("unknown kind " + kind)
# Build every frame before the clock starts, so the time is the sending alone.
frames = [raw(f) for f in frames]
start = time.monotonic()
sendp(frames, iface=iface)
print(f"{time.monotonic() - start:.6f}")
