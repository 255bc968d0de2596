package load

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
)

// Operations a load terminal sends.
const (
	OpSale     = "sale"     // 0200, processing code 000000
	OpRefund   = "refund"   // 0200, processing code 200000
	OpBalance  = "balance"  // 0200, processing code 310000
	OpReversal = "reversal" // 0400 for one of the terminal's earlier approved sales
	OpEcho     = "echo"     // 0800, DE70 301
)

// Ops lists the operations a Mix may name.
func Ops() []string { return []string{OpSale, OpRefund, OpBalance, OpReversal, OpEcho} }

// Mix is the share of each operation, as weights.
type Mix map[string]int

// DefaultMix is what --mix defaults to.
const DefaultMix = "sale:90,refund:5,reversal:5"

// ParseMix reads "sale:90,refund:5,reversal:5" (weights, not necessarily summing to 100).
// A name without a weight counts 1.
func ParseMix(s string) (Mix, error) {
	m := Mix{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, hasW := strings.Cut(part, ":")
		name = strings.TrimSpace(name)
		weight := 1
		if hasW {
			n, err := strconv.Atoi(strings.TrimSpace(w))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("mix %q: weight of %s must be a whole number ≥ 0, got %q", s, name, w)
			}
			weight = n
		}
		known := false
		for _, op := range Ops() {
			known = known || op == name
		}
		if !known {
			return nil, fmt.Errorf("mix %q: unknown operation %q (use %s)", s, name, strings.Join(Ops(), ", "))
		}
		m[name] += weight
	}
	total := 0
	for _, w := range m {
		total += w
	}
	if total == 0 {
		return nil, fmt.Errorf("mix %q: no operation has a weight", s)
	}
	if m[OpReversal] > 0 && m[OpSale] == 0 {
		return nil, fmt.Errorf("mix %q: reversals need sales to reverse", s)
	}
	return m, nil
}

// String renders the mix in ParseMix's format, operations in a fixed order.
func (m Mix) String() string {
	var parts []string
	for _, op := range Ops() {
		if m[op] > 0 {
			parts = append(parts, fmt.Sprintf("%s:%d", op, m[op]))
		}
	}
	return strings.Join(parts, ",")
}

// picker draws operations with the mix's weights.
type picker struct {
	ops []string
	cum []int
}

func newPicker(m Mix) picker {
	var p picker
	ops := make([]string, 0, len(m))
	for op, w := range m {
		if w > 0 {
			ops = append(ops, op)
		}
	}
	sort.Strings(ops) // map order must not change what a seed draws
	total := 0
	for _, op := range ops {
		total += m[op]
		p.ops = append(p.ops, op)
		p.cum = append(p.cum, total)
	}
	return p
}

func (p picker) pick(r *rand.Rand) string {
	x := r.IntN(p.cum[len(p.cum)-1])
	for i, c := range p.cum {
		if x < c {
			return p.ops[i]
		}
	}
	return p.ops[len(p.ops)-1]
}
