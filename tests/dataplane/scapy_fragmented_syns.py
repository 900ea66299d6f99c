#!/usr/bin/python3
"""Sends TCP SYNs split into IPv4 fragments so that the first fragment holds
only 8 bytes of TCP and a second one, at offset 1 (8 bytes), carries the flags
(RFC 1858), while sniffing the SYN-ACKs the listener answers with. Prints the
seconds spent sending and the SYN-ACKs seen, e.g. "1.234567 42".

usage: scapy_fragmented_syns.py IFACE DST_MAC KIND COUNT DST DPORT
  split:  the first fragment is exactly the 8 bytes of TCP
  padded: the first fragment's frame is padded past the IP total length with
          bytes that complete a TCP header with ACK set
"""
import sys
import threading
import time

from scapy.all import IP, TCP, Ether, AsyncSniffer, conf, raw, sendp

conf.verb = 0
iface, mac, kind, count, dst, dport = sys.argv[1:7]
count, dport = int(count), int(dport)
src = dst.rsplit(".", 1)[0] + ".1"


def fragments(i):
    sport = 20000 + i
    tcp = raw(IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags="S", seq=i))[20:]
    first = Ether(dst=mac) / IP(src=src, dst=dst, id=i, flags="MF", frag=0, proto=6) / tcp[:8]
    second = Ether(dst=mac) / IP(src=src, dst=dst, id=i, frag=1, proto=6) / tcp[8:]
    first = raw(first)
    if kind == "padded":
        fake = raw(TCP(sport=sport, dport=dport, flags="A", seq=i))[8:]
        first += fake
    return [first, raw(second)]


if kind not in ("split", "padded"):
    sys.exit("unknown kind " + kind)
frames = [f for i in range(count) for f in fragments(i)]
synacks = 0
lock = threading.Lock()


def seen(packet):
    global synacks
    with lock:
        synacks += 1


started = threading.Event()
sniffer = AsyncSniffer(
    iface=iface,
    store=False,
    started_callback=started.set,
    lfilter=lambda p: TCP in p and p[IP].src == dst and p[TCP].sport == dport
    and (p[TCP].flags & 0x12) == 0x12,
    prn=seen,
)
sniffer.start()
started.wait(5)
start = time.monotonic()
sendp(frames, iface=iface)
seconds = time.monotonic() - start
time.sleep(0.5)  # the last SYN-ACKs are on their way
sniffer.stop()
print(f"{seconds:.6f} {synacks}")
