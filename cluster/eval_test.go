package cluster

import (
	"math"
	"testing"
)

func TestBCubed(t *testing.T) {
	want := map[int64]string{1: "a", 2: "a", 3: "a", 4: "b", 5: "b"}
	for _, tc := range []struct {
		name         string
		got          map[int64]string
		p, r, f1     float64
		adjustedRand float64
	}{
		{"Perfect", map[int64]string{1: "x", 2: "x", 3: "x", 4: "y", 5: "y"}, 1, 1, 1, 1},
		{"AllOne", map[int64]string{1: "x", 2: "x", 3: "x", 4: "x", 5: "x"}, (3*0.6 + 2*0.4) / 5, 1, 2 * 0.52 / 1.52, 0},
		{"Singletons", map[int64]string{1: "1", 2: "2", 3: "3", 4: "4", 5: "5"}, 1, (3.0/3 + 2.0/2) / 5, 2 * 0.4 / 1.4, 0},
		// {1,2} {3,4,5}: precision (1+1+1/3+2/3+2/3)/5, recall (2/3+2/3+1/3+1+1)/5
		{"Split", map[int64]string{1: "x", 2: "x", 3: "y", 4: "y", 5: "y"}, (2 + 1.0/3 + 4.0/3) / 5, (4.0/3 + 1.0/3 + 2) / 5, 11.0 / 15, 1.0 / 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, r, f1 := BCubed(tc.got, want)
			if math.Abs(p-tc.p) > 1e-9 || math.Abs(r-tc.r) > 1e-9 || math.Abs(f1-tc.f1) > 1e-9 {
				t.Errorf("BCubed = %.4f %.4f %.4f, want %.4f %.4f %.4f", p, r, f1, tc.p, tc.r, tc.f1)
			}
			if got := AdjustedRand(tc.got, want); math.Abs(got-tc.adjustedRand) > 1e-9 {
				t.Errorf("AdjustedRand = %.4f, want %.4f", got, tc.adjustedRand)
			}
		})
	}
	t.Run("OnlyCommonItems", func(t *testing.T) {
		p, r, f1 := BCubed(map[int64]string{1: "x", 2: "x", 9: "x"}, map[int64]string{1: "a", 2: "a", 7: "b"})
		if p != 1 || r != 1 || f1 != 1 {
			t.Errorf("BCubed = %v %v %v, want 1 1 1", p, r, f1)
		}
	})
	t.Run("Empty", func(t *testing.T) {
		if p, r, f1 := BCubed(nil, nil); p != 0 || r != 0 || f1 != 0 {
			t.Errorf("BCubed(nil) = %v %v %v", p, r, f1)
		}
	})
}
