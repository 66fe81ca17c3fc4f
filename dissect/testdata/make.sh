#!/bin/bash
# make.sh regenerates the real captures in this directory (needs root,
# tcpdump, dumpcap, editcap, mergecap, tcprewrite, nft and python3).
#
# Two network namespaces joined by a veth pair: fwc (client, 192.0.2.1,
# 2001:db8::1) and fws (server, 192.0.2.2, 2001:db8::2) with a TCP server on
# 5001 that greets like Supportworks, nothing on 5002 (RST), an nftables
# "reject with icmpx admin-prohibited" on 5003, nothing on UDP 19283 (ICMP
# port unreachable) and a tiny DNS server answering prs.sassafras.com through
# a CNAME. A tun device in fwc gives a raw-IP capture. The other link types
# are the same real packets with their link header rewritten.
set -euo pipefail
cd "$(dirname "$0")"
lab=$PWD/lab.py
pids=()
tmp=
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	ip netns del fwc 2>/dev/null || true
	ip netns del fws 2>/dev/null || true
	rm -rf ${tmp:+"$tmp"} /tmp/fwdiag-tun-ready
}
cleanup
tmp=$(mktemp -d)
trap cleanup EXIT

ip netns add fwc
ip netns add fws
ip link add c0 netns fwc type veth peer name s0 netns fws
ip -n fwc link set c0 address 02:00:00:00:00:01
ip -n fws link set s0 address 02:00:00:00:00:02
for ns in fwc fws; do ip -n $ns link set lo up; done
ip -n fwc addr add 192.0.2.1/24 dev c0
ip -n fwc addr add 2001:db8::1/64 dev c0 nodad
ip -n fws addr add 192.0.2.2/24 dev s0
ip -n fws addr add 2001:db8::2/64 dev s0 nodad
ip -n fwc link set c0 up
ip -n fws link set s0 up
ip netns exec fws nft -f - <<'NFT'
table inet lab {
	chain input {
		type filter hook input priority 0;
		tcp dport 5003 reject with icmpx admin-prohibited
	}
}
NFT

ip netns exec fws python3 "$lab" serve & pids+=($!)
cap() { # cap NS FILE TCPDUMP-ARGS...
	local ns=$1 f=$2; shift 2
	ip netns exec "$ns" tcpdump -Z root -U -q -w "$tmp/$f" "$@" 2>/dev/null & pids+=($!)
}
cap fwc eth.pcap -i c0 -s 262144
cap fwc eth_nano.pcap -i c0 --time-stamp-precision=nano
cap fws sll2.pcap -i any
cap fws sll.pcap -i any -y LINUX_SLL
ip netns exec fwc dumpcap -q -i c0 -w "$tmp/dumpcap.pcapng" 2>/dev/null & pids+=($!)
sleep 2
ip netns exec fwc python3 "$lab" client
sleep 1

# Raw IP: a tun device whose reader answers SYNs with ICMP host-prohibited.
ip netns exec fwc python3 "$lab" tun & tunpid=$!
while [ ! -e /tmp/fwdiag-tun-ready ]; do sleep 0.1; done
ip -n fwc addr add 198.51.100.1/24 dev tun0
ip -n fwc addr add 2001:db8:1::1/64 dev tun0 nodad
ip -n fwc link set tun0 up
cap fwc raw.pcap -i tun0
sleep 1.5
ip netns exec fwc python3 "$lab" tunclient
wait $tunpid || true
sleep 0.5

for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
sleep 1

cp "$tmp"/{eth,eth_nano,sll2,sll,raw}.pcap "$tmp/dumpcap.pcapng" .
editcap -F pcapng eth.pcap eth.pcapng
mergecap -F pcapng -w multi.pcapng eth.pcap sll2.pcap
# Detected by magic, not by name: no .gz suffix on one of them.
gzip -9 -n -c sll2.pcap > sll2.pcap.gz
gzip -9 -n -c eth.pcapng > eth_pcapng.gzipped
head -c $(( $(stat -c %s sll2.pcap.gz) * 2 / 3 )) sll2.pcap.gz > cut.pcap.gz
head -c $(( $(stat -c %s eth.pcap) - 30 )) eth.pcap > cut.pcap
tcprewrite --enet-vlan=add --enet-vlan-tag=100 --enet-vlan-pri=0 --enet-vlan-cfi=0 -i eth.pcap -o vlan.pcap
tcprewrite --enet-vlan=add --enet-vlan-tag=200 --enet-vlan-pri=0 --enet-vlan-cfi=0 --enet-vlan-proto=802.1ad -i vlan.pcap -o qinq.pcap
# BSD null (AF_INET 2, little-endian host) and OpenBSD loop (AF_INET6 24, network order).
tcpdump -r eth.pcap -w "$tmp/v4.pcap" ip 2>/dev/null
tcpdump -r eth.pcap -w "$tmp/v6.pcap" ip6 2>/dev/null
tcprewrite --dlt=user --user-dlt=0 --user-dlink=02,00,00,00 -i "$tmp/v4.pcap" -o null.pcap
tcprewrite --dlt=user --user-dlt=108 --user-dlink=00,00,00,18 -i "$tmp/v6.pcap" -o loop.pcap
chmod 644 ./*.pcap ./*.pcapng ./*.gz ./*.gzipped
ls -l ./*.pcap ./*.pcapng ./*.gz ./*.gzipped
