package diagnose

// confidence rates a finding's conclusion by what its facts rest on.
func confidence(f *Finding) Confidence {
	switch f.Kind {
	case SynUnanswered, SynICMPRejected, RSTInjected, SWInternalBlocked, NPANotificationLost, NPAUDPMode,
		UDPICMPUnreachable, K2ShadowFailover, DroppedBetweenCaptures, ResetBetweenCaptures:
		return High
	case SynReset:
		// A reset whose TTL differs from the server's own packets was
		// forged: sure. Same TTL, or nothing to compare: a closed port is
		// likely but a host firewall looks the same.
		if x, ok := f.Facts.(*SynResetFacts); ok && x.Forged > 0 {
			return High
		}
		return Medium
	case NPANotificationMissing:
		x, _ := f.Facts.(*NPAMissingFacts)
		switch {
		case x != nil && x.Blocked > 0:
			return High
		case x != nil && x.Midstream > 0:
			return Low // an idle socket opened before the capture looks the same
		}
		return Medium
	case NPAOrphanNotification:
		if f.Severity == Warning {
			return Medium
		}
		return Low
	case NPAUDPUnreachable:
		if x, ok := f.Facts.(*NPAUDPFacts); ok && x.NoneArrived > 0 {
			return Medium // inferred from other clients' datagrams
		}
		return High
	}
	return Medium
}
