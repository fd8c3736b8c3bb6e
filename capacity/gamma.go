package capacity

import "math"

// logS returns log S(s, x) for s > 0 and x >= 0, where
//
//	S(s, x) = Σ_{k≥0} x^k / (s (s+1) … (s+k)) = e^x x^(-s) γ(s, x)
//
// and γ is the lower incomplete gamma function. S is the sum that turns up
// in every Erlang A quantity (see erlangA). It is computed in log space
// because it overflows a float64 for heavily overloaded queues (x ≫ s,
// where S ≈ Γ(s) e^x x^(-s)).
//
// Method (Numerical Recipes, 3rd ed., §6.2, gser/gcf): for x < s+1 the
// series above, whose terms fall from the first; for x ≥ s+1 the identity
// S = Γ(s) e^x x^(-s) − h, where h = e^x x^(-s) Γ(s, x) is Legendre's
// continued fraction for the upper incomplete gamma, evaluated with the
// modified Lentz method. There Γ(s, x)/Γ(s) ≤ 1/2 (the median of a gamma
// variable is below s), so the subtraction loses no digits. Both converge
// in O(√s) iterations near x ≈ s and faster elsewhere.
func logS(s, x float64) float64 {
	if x == 0 {
		return -math.Log(s)
	}
	limit := maxIterations(s)
	if x < s+1 {
		term := 1 / s
		sum := term
		for k := 1; k < limit; k++ {
			term *= x / (s + float64(k))
			sum += term
			if term < sum*1e-17 {
				break
			}
		}
		return math.Log(sum)
	}
	const tiny = 1e-300
	b := x + 1 - s
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < limit; i++ {
		an := -float64(i) * (float64(i) - s)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-16 {
			break
		}
	}
	l := logGammaExpPow(s, x)
	return l + math.Log1p(-h*math.Exp(-l))
}

// logGammaExpPow returns log(Γ(s) e^x x^(-s)) = lgamma(s) + x − s·log x.
// For large s the three terms are each ~s·log s and nearly cancel (they
// leave ~½·log(2π/s) when x ≈ s), so summing them loses ~s·log s·1e-16;
// instead Stirling's series for lgamma is folded in:
//
//	lgamma(s) + x − s·log x = ½·log(2π/s) + stirling(s) − s·log1pmx((x−s)/s)
//
// which only adds terms of the size of the result.
func logGammaExpPow(s, x float64) float64 {
	if s < 10 {
		lg, _ := math.Lgamma(s)
		return lg + x - s*math.Log(x)
	}
	return 0.5*math.Log(2*math.Pi/s) + stirling(s) - s*log1pmx((x-s)/s)
}

// stirling is lgamma(s) − ((s−½)·log s − s + ½·log 2π), the tail of
// Stirling's series, for s >= 10 (the next term is below 1e-12 there).
func stirling(s float64) float64 {
	r := 1 / (s * s)
	return (1.0/12 - r*(1.0/360-r*(1.0/1260-r*(1.0/1680)))) / s
}

// log1pmx returns log(1+u) − u for u > −1, by its series for small u
// (where the difference would cancel) and directly elsewhere.
func log1pmx(u float64) float64 {
	if math.Abs(u) > 0.25 {
		return math.Log1p(u) - u
	}
	// −u²/2 + u³/3 − u⁴/4 + …; |u| <= 1/4 needs < 30 terms for 1e-17.
	sum, pow := 0.0, u
	for k := 2; k < 60; k++ {
		pow *= -u
		term := pow / float64(k)
		sum += term
		if math.Abs(term) < 1e-17*math.Abs(sum) {
			break
		}
	}
	return sum
}

// maxIterations bounds the series and the continued fraction of logS: both
// need O(√s) terms near x ≈ s (the terms fall like exp(−k²/2s), so 1e-17
// takes about 9√s), and far fewer elsewhere. 20√s plus a margin is past
// convergence; the absolute cap only guarantees that no input loops for
// long (ErlangA keeps s below ~1e11, where the cap is not reached).
func maxIterations(s float64) int {
	return int(math.Min(200+20*math.Sqrt(s), 1e7))
}
