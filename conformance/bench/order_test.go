package bench

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOrderIsBalanced(t *testing.T) {
	for n := 1; n <= 7; n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			cycle := n
			if n%2 == 1 {
				cycle = 2 * n
			}
			first := make([]int, n)
			follows := make(map[[2]int]int)
			for rep := 1; rep <= cycle; rep++ {
				order := Order(n, rep)
				require.ElementsMatch(t, seq(n), order, "rep %d is not a permutation", rep)
				first[order[0]]++
				for i := 1; i < n; i++ {
					follows[[2]int{order[i-1], order[i]}]++
				}
				assert.Equal(t, order, Order(n, rep+cycle), "the design repeats after %d reps", cycle)
			}
			for i, c := range first {
				assert.Equal(t, cycle/n, c, "target %d runs first", i)
			}
			for a := range n {
				for b := range n {
					if a != b {
						assert.Equal(t, cycle/n, follows[[2]int{a, b}], "%d right after %d", b, a)
					}
				}
			}
		})
	}
}

func TestOrderTwoTargetsAlternate(t *testing.T) {
	assert.Equal(t, []int{0, 1}, Order(2, 1))
	assert.Equal(t, []int{1, 0}, Order(2, 2))
	assert.Equal(t, []int{0, 1}, Order(2, 3))
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}
