package cluster

// BCubed scores a clustering got against labels want, both item id to
// cluster key, over the items in both: precision is, averaged over items,
// the share of an item's cluster that truly belongs with it; recall the share
// of its true cluster that it was put with; f1 their harmonic mean.
func BCubed(got, want map[int64]string) (precision, recall, f1 float64) {
	type pair struct{ g, w string }
	gs, ws, both := map[string]int{}, map[string]int{}, map[pair]int{}
	n := 0
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			continue
		}
		gs[g]++
		ws[w]++
		both[pair{g, w}]++
		n++
	}
	if n == 0 {
		return 0, 0, 0
	}
	// Every item of one (got, want) cell has the same precision and recall.
	for p, c := range both {
		precision += float64(c) * float64(c) / float64(gs[p.g])
		recall += float64(c) * float64(c) / float64(ws[p.w])
	}
	precision /= float64(n)
	recall /= float64(n)
	if precision+recall > 0 {
		f1 = 2 * precision * recall / (precision + recall)
	}
	return precision, recall, f1
}

// AdjustedRand is the adjusted Rand index of got against want over the items
// in both: 1 for identical clusterings, about 0 for chance agreement.
func AdjustedRand(got, want map[int64]string) float64 {
	type pair struct{ g, w string }
	gs, ws, both := map[string]int{}, map[string]int{}, map[pair]int{}
	n := 0
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			continue
		}
		gs[g]++
		ws[w]++
		both[pair{g, w}]++
		n++
	}
	c2 := func(k int) float64 { return float64(k) * float64(k-1) / 2 }
	var index, a, b float64
	for _, c := range both {
		index += c2(c)
	}
	for _, c := range gs {
		a += c2(c)
	}
	for _, c := range ws {
		b += c2(c)
	}
	total := c2(n)
	if total == 0 {
		return 1
	}
	expected := a * b / total
	max := (a + b) / 2
	if max == expected {
		return 1
	}
	return (index - expected) / (max - expected)
}
