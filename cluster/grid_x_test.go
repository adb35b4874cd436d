package cluster

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestGrid(t *testing.T) {
	if os.Getenv("GRID") == "" {
		t.Skip()
	}
	items, labels := loadCorpus(t)
	l := func(k, d string) []float64 {
		v := os.Getenv(k)
		if v == "" {
			v = d
		}
		var out []float64
		for _, p := range strings.Split(v, ",") {
			x, _ := strconv.ParseFloat(p, 64)
			out = append(out, x)
		}
		return out
	}
	type res struct {
		s  string
		f1 float64
	}
	var rs []res
	for _, sidf := range l("SIDF", "1") {
		for _, hl := range l("HL", "24") {
			for _, mc := range l("MC", "0.1") {
				for _, pw := range l("PW", "2") {
					for _, nw := range l("NW", "1") {
						for _, tw := range l("TW", "2") {
							for _, num := range l("NUM", "1.5") {
								for _, th := range l("TH", "0.14") {
									cfg := DefaultConfig()
									cfg.HalfLife = time.Duration(hl * float64(time.Hour))
									cfg.MinContent, cfg.PhraseWeight, cfg.TitleWeight, cfg.NumberWeight, cfg.Threshold = mc, pw, tw, num, th
									_, _ = nw, sidf
									if os.Getenv("MAX") != "" {
										cfg.Linkage = MaxMember
									}
									got := run(New(cfg), items)
									p, r, f1 := BCubed(got, labels)
									rs = append(rs, res{fmt.Sprintf("sidf=%v hl=%v mc=%v pw=%v nw=%v tw=%v num=%v th=%v P=%.3f R=%.3f F1=%.3f ARI=%.3f", sidf, hl, mc, pw, nw, tw, num, th, p, r, f1, AdjustedRand(got, labels)), f1})
								}
							}
						}
					}
				}
			}
		}
	}
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].f1 > rs[j].f1 })
	for i, r := range rs {
		if i < 25 {
			fmt.Println(r.s)
		}
	}
}
