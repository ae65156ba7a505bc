package sdk

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFinalDrainReportsEachErrorOnce(t *testing.T) {
	lostEarly := fmt.Errorf("3 bytes of f: %w", ErrDataLost)
	lostFinal := fmt.Errorf("2 bytes of f: %w", ErrDataLost)
	closeErr := errors.New("closing g: EIO")
	syncErr := errors.New("syncfs: EIO")

	// Without a final drain the early one is all there is.
	assert.Equal(t, lostEarly, finalDrain(lostEarly, nil, false))

	// The final account of lost data supersedes the early one; what else
	// the early drain said is kept, and what both said appears once.
	got := finalDrain(errors.Join(lostEarly, closeErr, syncErr), errors.Join(syncErr, lostFinal), true)
	assert.ErrorIs(t, got, ErrDataLost)
	assert.Equal(t, []error{closeErr, syncErr, lostFinal}, flatten(got))

	// Data that reached the backend by the final drain is not reported.
	assert.NoError(t, finalDrain(lostEarly, nil, true))
	assert.Equal(t, []error{closeErr}, flatten(finalDrain(errors.Join(lostEarly, closeErr), nil, true)))
}
