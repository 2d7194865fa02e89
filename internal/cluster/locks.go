package cluster

import "hash/fnv"

// MonitorLock is the advisory lock key of the key health monitor's leader
// in one hosting region. Each region's instances elect their own leader,
// since only they can probe that region's keys with that region's platform
// account; the empty region (a monitor that judges tenants whole) is
// LockMonitor.
func MonitorLock(region string) int64 {
	if region == "" {
		return LockMonitor
	}
	h := fnv.New32a()
	h.Write([]byte(region))
	return 0x6279_6d72<<32 | int64(h.Sum32())
}

// LockRotation is the advisory lock key of scheduled rotation's leader: one
// instance of all rotates every tenant that is due.
const LockRotation int64 = 0x6279_6f6b_0002
