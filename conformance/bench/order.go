package bench

// Order is the order in which repetition rep (from 1) visits n targets, as
// indices; Runner uses it, and tools with their own loop can too. Plain
// rotation keeps the cyclic order fixed, so a target nearly always runs
// right after the same neighbour and inherits whatever that neighbour leaves
// behind (two copies of one binary in a rotated run differed by 12 %, and by
// 19 % the other way round once the order changed; docs/performance.md §0).
// A Williams design avoids that: over one cycle of sequences (n of them for
// even n; 2n for odd n, the second n mirroring the first) every target runs
// first equally often and right after every other target equally often.
func Order(n, rep int) []int {
	order := make([]int, n)
	if n == 0 {
		return order
	}
	cycle := n
	if n%2 == 1 {
		cycle = 2 * n
	}
	row := (rep - 1) % cycle
	if row < 0 {
		row += cycle
	}
	shift := row % n
	// The base sequence 0, 1, n-1, 2, n-2, ... steps by +1, -2, +3, -4, ...
	// (mod n): every difference between neighbours occurs once, so shifting
	// it by each of 0..n-1 puts every ordered pair side by side once.
	lo, hi := 1, n-1
	for j := range order {
		var v int
		switch {
		case j == 0:
			v = 0
		case j%2 == 1:
			v, lo = lo, lo+1
		default:
			v, hi = hi, hi-1
		}
		order[j] = (v + shift) % n
	}
	if row >= n {
		for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
			order[i], order[j] = order[j], order[i]
		}
	}
	return order
}
