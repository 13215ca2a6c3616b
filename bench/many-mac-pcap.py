#!/usr/bin/env python3
"""Writes the two pcaps of the many-MAC v2v run: PAIRS distinct (source, destination) MAC pairs,
one frame each, in pair order so that consecutive frames never share a pair (a switch's
last-hit cache misses on every frame). a.pcap carries 02:0a:..:i -> 02:0b:..:i (sent into port
0), b.pcap the reverse (sent into port 1), so every MAC is learned behind exactly one port.
Usage: many-mac-pcap.py DIR FRAME_BYTES [PAIRS]  (FRAME_BYTES counts the 4-byte FCS, as testpmd's
figures do; IPv4/UDP frames, UDP checksum 0)."""
import struct, sys

out, frame = sys.argv[1], int(sys.argv[2])
pairs = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
length = frame - 4  # on the wire without the FCS


def mac(kind, i):
    return bytes([0x02, kind, 0, 0, i >> 8, i & 0xFF])


def ipv4_csum(hdr):
    s = sum(struct.unpack("!10H", hdr))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return (~s) & 0xFFFF


def frame_bytes(src, dst, i):
    ip_len = length - 14
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, ip_len, i, 0, 64, 17, 0,
                     bytes([169, 254, 10, i & 0xFF]), bytes([169, 254, 11, i & 0xFF]))
    ip = ip[:10] + struct.pack("!H", ipv4_csum(ip)) + ip[12:]
    udp = struct.pack("!HHHH", 1024 + (i & 0xFFF), 4789 - 1, ip_len - 20, 0)
    pad = bytes(length - 14 - len(ip) - len(udp))
    return dst + src + b"\x08\x00" + ip + udp + pad


for name, s, d in (("a.pcap", 0x0A, 0x0B), ("b.pcap", 0x0B, 0x0A)):
    with open(f"{out}/{name}", "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(pairs):
            pkt = frame_bytes(mac(s, i), mac(d, i), i)
            f.write(struct.pack("<IIII", 0, 0, len(pkt), len(pkt)) + pkt)
