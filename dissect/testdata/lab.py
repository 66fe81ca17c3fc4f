#!/usr/bin/env python3
"""Traffic for make.sh: run "lab.py serve" in the server namespace and
"lab.py client" in the client namespace; "lab.py tun" answers on a tun device.

Addresses are documentation ranges only (192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24, 2001:db8::/32).
"""
import fcntl, os, socket, struct, sys, threading, time


def tcp_server(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(8)
    while True:
        c, _ = s.accept()
        c.sendall(b"SW102: Hello[lab]\r\n")
        while c.recv(4096):
            pass
        c.close()


def name(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".")) + b"\0"


def dns_server(family, addr):
    s = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, 53))
    while True:
        q, peer = s.recvfrom(512)
        qid, = struct.unpack("!H", q[:2])
        end = 12
        while q[end]:
            end += q[end] + 1
        qname = q[12:end]
        qtype, = struct.unpack("!H", q[end + 1:end + 3])
        question = q[12:end + 5]
        ans = b""
        n = 0
        # Owner names use compression pointers, as real servers do.
        if qname == name("PRS.Sassafras.com")[:-1] or qname.lower() == name("prs.sassafras.com")[:-1]:
            target = name("x.cdn.example")
            ans += b"\xc0\x0c" + struct.pack("!HHIH", 5, 1, 300, len(target)) + target
            tpos = 12 + len(question) + 12
            if qtype == 1:
                ans += struct.pack("!HHHIH", 0xC000 | tpos, 1, 1, 60, 4) + socket.inet_aton("203.0.113.5")
            else:
                ans += struct.pack("!HHHIH", 0xC000 | tpos, 28, 1, 60, 16) + socket.inet_pton(socket.AF_INET6, "2001:db8::5")
            n = 2
        elif qname.lower() == name("www.sassafras.com")[:-1]:
            ans += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("198.51.100.80")
            ans += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("198.51.100.81")
            n = 2
        hdr = struct.pack("!HHHHHH", qid, 0x8180, 1, n, 0, 0)
        s.sendto(hdr + question + ans, peer)


def serve():
    threading.Thread(target=tcp_server, args=(5001,), daemon=True).start()
    threading.Thread(target=dns_server, args=(socket.AF_INET, "0.0.0.0"), daemon=True).start()
    threading.Thread(target=dns_server, args=(socket.AF_INET6, "::"), daemon=True).start()
    while True:
        time.sleep(1)


def connect(family, addr, port, data=None):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect((addr, port))
        s.recv(100)
        if data:
            s.sendall(data)
            time.sleep(0.05)
    except OSError as e:
        print(f"{addr}:{port}: {e}", file=sys.stderr)
    s.close()
    time.sleep(0.1)


def udp(family, addr, port, data):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    s.sendto(data, (addr, port))
    try:
        s.recv(512)
    except OSError as e:
        print(f"udp {addr}:{port}: {e}", file=sys.stderr)
    s.close()
    time.sleep(0.1)


def query(family, addr, qname, qtype):
    q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + name(qname) + struct.pack("!HH", qtype, 1)
    udp(family, addr, 53, q)


def client():
    for fam, srv in ((socket.AF_INET, "192.0.2.2"), (socket.AF_INET6, "2001:db8::2")):
        connect(fam, srv, 5001, b"request " * 40)   # handshake, greeting, data, close
        connect(fam, srv, 5002)                     # closed port: RST
        connect(fam, srv, 5003)                     # nft reject: ICMP admin-prohibited
        udp(fam, srv, 19283, b"\x00\x01 keyserver") # closed UDP port: ICMP port unreachable
    query(socket.AF_INET, "192.0.2.2", "PRS.Sassafras.com", 1)
    query(socket.AF_INET6, "2001:db8::2", "prs.sassafras.com", 28)
    query(socket.AF_INET, "192.0.2.2", "www.sassafras.com", 1)


def tun():
    """Open tun0 and send through it; the raw capture sees both directions."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, 0x400454CA, struct.pack("16sH", b"tun0", 0x0001 | 0x1000))  # TUNSETIFF, IFF_TUN|IFF_NO_PI
    open("/tmp/fwdiag-tun-ready", "w").close()
    end = time.time() + 3
    os.set_blocking(fd, False)
    while time.time() < end:
        try:
            pkt = os.read(fd, 2048)
        except BlockingIOError:
            time.sleep(0.01)
            continue
        if pkt[0] >> 4 == 4 and pkt[9] == 6:
            # Answer a SYN with ICMP host-prohibited quoting it.
            quote = pkt[:28]
            icmp = struct.pack("!BBHI", 3, 10, 0, 0) + quote
            icmp = icmp[:2] + struct.pack("!H", cksum(icmp)) + icmp[4:]
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 7, 0, 61, 1, 0, pkt[16:20], pkt[12:16])
            ip = ip[:10] + struct.pack("!H", cksum(ip)) + ip[12:]
            os.write(fd, ip + icmp)


def cksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def tunclient():
    for fam, srv in ((socket.AF_INET, "198.51.100.2"), (socket.AF_INET6, "2001:db8:1::2")):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(0.3)
        try:
            s.connect((srv, 5001))
        except OSError as e:
            print(f"tun {srv}: {e}", file=sys.stderr)
        s.close()
        u = socket.socket(fam, socket.SOCK_DGRAM)
        u.sendto(b"k2 hello", (srv, 19283))
        u.close()


if __name__ == "__main__":
    {"serve": serve, "client": client, "tun": tun, "tunclient": tunclient}[sys.argv[1]]()
