//go:build race

package control

// raceEnabled: the race detector slows the crash child (a copy of this test
// binary) about sixfold, so the crash test kills it fewer times.
const raceEnabled = true
