package iampolicy
import ("strings";"testing";"time")
func TestGlobWorst(t *testing.T) {
	p := "*" + strings.Repeat("a", 8000) + "b"
	s := strings.Repeat("a", 16000)
	start := time.Now()
	globMatch(p, s)
	t.Log(time.Since(start))
}
