package dissect

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"
)

// The lab captures (Ethernet, recorded through a real firewall) reframed
// into every link type and tunnel fwdiag reads must decode to the same
// packets: nothing the framing adds may change what the analysis sees.

// labCaptures returns the Ethernet captures of pcaps/captures by name.
func labCaptures(t *testing.T) map[string][]rec {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "pcaps", "captures", "*", "*.pcap"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no lab captures: %v", err)
	}
	out := map[string][]rec{}
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r, err := pcapgo.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if r.LinkType() == 1 {
			var recs []rec
			for {
				data, ci, err := r.ReadPacketData()
				if err != nil {
					break
				}
				recs = append(recs, rec{ci.Timestamp, data, ci.CaptureLength, ci.Length})
			}
			rel, _ := filepath.Rel(filepath.Join("..", "pcaps", "captures"), path)
			out[rel] = recs
		}
		f.Close()
	}
	if len(out) < 10 {
		t.Fatalf("only %d Ethernet lab captures", len(out))
	}
	return out
}

// reframing turns an Ethernet frame (type et, payload after the Ethernet
// header) into another framing; ok false keeps the frame as it is.
type reframing struct {
	name     string
	linkType int
	tunnel   Encap // what Packet.Tunnel must say for an IP packet
	frame    func(et uint16, pl []byte) (f []byte, ok bool)
	trailer  int // bytes after the packet (an FCS), absent when the frame was cut
}

func isIP(et uint16) bool { return et == etherIPv4 || et == etherIPv6 }

func reframings() []reframing {
	ipOnly := func(wrap func(et uint16, pl []byte) []byte) func(uint16, []byte) ([]byte, bool) {
		return func(et uint16, pl []byte) ([]byte, bool) {
			if !isIP(et) {
				return nil, false
			}
			return wrap(et, pl), true
		}
	}
	ethFrame := func(et uint16, pl []byte) []byte { return ether(et, pl) }
	return []reframing{
		{"nflog", LinkNFLOG, EncapNone, func(et uint16, pl []byte) ([]byte, bool) {
			fam := byte(3) // ARP: what nflog logs in the arp table
			switch et {
			case etherIPv4:
				fam = 2
			case etherIPv6:
				fam = 10
			}
			return nflogh(binary.LittleEndian, fam, 7, "lab", pl), true
		}, 0},
		{"ppp", LinkPPP, EncapNone, func(et uint16, pl []byte) ([]byte, bool) {
			switch et {
			case etherIPv4:
				return cat([]byte{0xFF, 0x03, 0x00, 0x21}, pl), true
			case etherIPv6:
				return cat([]byte{0xFF, 0x03, 0x00, 0x57}, pl), true
			}
			return cat([]byte{0xFF, 0x03, 0xC0, 0x21}, pl), true // as LCP: no packet
		}, 0},
		{"cisco_hdlc", LinkPPPHDLC, EncapNone, func(et uint16, pl []byte) ([]byte, bool) {
			return cat([]byte{0x0F, 0x00}, be16(et), pl), true
		}, 0},
		{"80211", LinkIEEE80211, EncapNone, func(et uint16, pl []byte) ([]byte, bool) {
			return cat(dot11h(0x01, false, false, 0), snap(et), pl), true
		}, 0},
		{"radiotap_qos_fcs", LinkRadiotap, EncapNone, func(et uint16, pl []byte) ([]byte, bool) {
			return cat(radiotaph(0x30, 1), dot11h(0x02, true, false, 0), []byte{0, 0}, snap(et), pl), true
		}, 4},
		{"vxlan", LinkEthernet, EncapVXLAN, func(et uint16, pl []byte) ([]byte, bool) {
			return outer4(40000, 4789, vxlanh(5, ethFrame(et, pl))), true
		}, 0},
		{"geneve", LinkEthernet, EncapGeneve, ipOnly(func(et uint16, pl []byte) []byte { return outer4(40000, 6081, geneveh(et, 2, pl)) }), 0},
		{"gre", LinkEthernet, EncapGRE, ipOnly(func(et uint16, pl []byte) []byte {
			return outerIP(47, greh(0, false, true, false, false, et, pl))
		}), 0},
		{"erspan2", LinkEthernet, EncapERSPAN, func(et uint16, pl []byte) ([]byte, bool) {
			return outerIP(47, greh(0, false, false, true, false, etherERSPAN, cat([]byte{0x10, 1, 0, 1, 0, 0, 0, 0}, ethFrame(et, pl)))), true
		}, 0},
		{"gre_udp", LinkEthernet, EncapGREUDP, ipOnly(func(et uint16, pl []byte) []byte {
			return outer4(40000, 4754, greh(0, false, false, false, false, et, pl))
		}), 0},
		{"gtpu", LinkEthernet, EncapGTPU, ipOnly(func(et uint16, pl []byte) []byte { return outer4(2152, 2152, gtph(0xFF, true, 1, pl)) }), 0},
		{"ip_in_ip", LinkEthernet, EncapIPinIP, ipOnly(func(et uint16, pl []byte) []byte {
			if et == etherIPv6 {
				return outerIP(41, pl)
			}
			return outerIP(4, pl)
		}), 0},
		{"ayiya", LinkEthernet, EncapAYIYA, ipOnly(func(et uint16, pl []byte) []byte {
			nh := byte(4)
			if et == etherIPv6 {
				nh = 41
			}
			return outer4(40000, 5072, ayiyah(1, nh, pl))
		}), 0},
		{"mpls", LinkEthernet, EncapMPLS, ipOnly(func(et uint16, pl []byte) []byte { return ether(etherMPLS, mplsh(2, pl)) }), 0},
		{"pbb", LinkEthernet, EncapPBB, func(et uint16, pl []byte) ([]byte, bool) {
			return ether(etherPBB, cat([]byte{0, 0, 1, 0}, macSTA, macGW, be16(et), pl)), true
		}, 0},
		{"vntag", LinkEthernet, EncapVNTag, func(et uint16, pl []byte) ([]byte, bool) {
			return ether(etherVNTag, cat([]byte{0x80, 1, 0, 2}, be16(et), pl)), true
		}, 0},
	}
}

// TestLabCapturesReframed reads every Ethernet lab capture reframed into
// each link type and tunnel, as a pcap file: the packets are those of the
// capture itself, field for field, with the tunnel named, and nothing is
// left undecoded.
func TestLabCapturesReframed(t *testing.T) {
	caps := labCaptures(t)
	for _, rf := range reframings() {
		t.Run(rf.name, func(t *testing.T) {
			frames := 0
			for name, recs := range caps {
				orig, errs := readAll(t, mustReader(t, pcapBytes(false, false, 262144, LinkEthernet, recs...)))
				if len(errs) != 0 || len(orig) != len(recs) {
					t.Fatalf("%s: %d packets, errors %v", name, len(orig), errs)
				}
				var out []rec
				reframed := make([]bool, len(recs))
				for i, r := range recs {
					et := binary.BigEndian.Uint16(r.data[12:14])
					f, ok := rf.frame(et, r.data[14:])
					if !ok {
						out = append(out, r)
						continue
					}
					reframed[i] = true
					grow := len(f) - len(r.data)
					if r.capLen == r.origLen && rf.trailer > 0 {
						f = append(f, make([]byte, rf.trailer)...) // the FCS
						grow += rf.trailer
					}
					out = append(out, rec{ts: r.ts, data: f, capLen: len(f), origLen: r.origLen + grow})
				}
				s := mustReader(t, pcapBytes(false, false, 262144, uint32(rf.linkType), out...))
				got, errs := readAll(t, s)
				if len(errs) != 0 || len(got) != len(orig) {
					t.Fatalf("%s: %d packets (errors %v); want %d", name, len(got), errs, len(orig))
				}
				if u := s.Inputs()[0].Undecoded; u != nil {
					t.Errorf("%s: undecoded %v", name, u)
				}
				for i := range got {
					g, o := got[i], orig[i]
					wantTunnel := EncapNone // an ARP frame in a tunnel is in it too
					if reframed[i] {
						wantTunnel = rf.tunnel
					}
					if !reflect.DeepEqual(innerOf(g), innerOf(o)) || g.Truncated != o.Truncated || g.Time != o.Time ||
						g.Frame != o.Frame || g.Tunnel != wantTunnel || !reflect.DeepEqual(g.DNS, o.DNS) {
						t.Fatalf("%s frame %d: tunnel %v truncated %v\n got: %+v\nwant: %+v", name, i+1, g.Tunnel, g.Truncated, innerOf(g), innerOf(o))
					}
					if o.IPVersion != 0 {
						frames++
					}
				}
			}
			if frames < 5000 {
				t.Errorf("only %d IP packets compared", frames)
			}
		})
	}
}
