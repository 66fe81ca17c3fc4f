// Command fwdiag diagnoses what firewalls, NAT and VPNs do to Hornbill
// Supportworks and Sassafras K2 traffic, from captures or live.
package main

import "os"

func main() {
	os.Exit(Main(os.Args[1:], defaultFactory()))
}
