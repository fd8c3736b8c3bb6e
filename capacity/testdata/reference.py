#!/usr/bin/env python3
"""Independent high-precision reference values for capacity/erlang_test.go.

Run once (python3 capacity/testdata/reference.py, standard library only);
its output is recorded in reference.txt and copied into the golden table of
erlang_test.go. It shares no code and no formula with erlang.go beyond the
model itself:

* Erlang C: the Erlang B recursion in exact rational arithmetic (fractions),
  then C = B/(1-rho(1-B)), SL = 1 - C exp(-(c-A) t/AHT), ASA = C AHT/(c-A),
  with exp evaluated in decimal at 60 digits.
* Erlang A (M/M/c+M): the birth-death stationary distribution summed term by
  term (no incomplete gamma, no Beta identity), truncated once a term is
  below 1e-60 of the total. P(wait) = sum_{n>=c} p_n (PASTA),
  P(abandon) = theta E[Q]/lambda, occupancy = lambda(1-P(ab))/(c mu),
  mean wait of all arrivals = E[Q]/lambda (Little). A caller who finds j
  others waiting reaches an agent after T_j = sum_{k=0..j} Exp(c mu + k theta)
  (hypoexponential, distinct rates) unless its own Exp(theta) patience ends
  first, so P(answered within t | j) = E[exp(-theta T_j); T_j <= t], and
  E[W; answered | j] = E[T_j exp(-theta T_j)], both from the hypoexponential
  density by partial fractions, in decimal at 500 digits (the partial-fraction
  coefficients cancel heavily).
"""
from decimal import Decimal as D, getcontext
from fractions import Fraction as F

getcontext().prec = 500


def dec(f):
    return D(f.numerator) / D(f.denominator)


def erlang_c(lam, aht, c, t):
    A = lam * aht
    b = F(1)
    for n in range(1, c + 1):
        b = A * b / (n + A * b)
    rho = A / c
    C = b / (1 - rho * (1 - b))
    sl = 1 - dec(C) * (-(dec(F(c) - A) * dec(t / aht))).exp()
    asa = dec(C * aht / (c - A))
    return dict(wait=dec(C), sl=sl, asa=asa, occ=dec(rho))


def erlang_a(lam, aht, patience, c, t):
    lam, mu, th = dec(lam), 1 / dec(aht), 1 / dec(patience)
    t = dec(t)
    q = [D(1)]
    total = D(1)
    n = 0
    while True:
        n += 1
        death = min(n, c) * mu + max(n - c, 0) * th
        q.append(q[-1] * lam / death)
        total += q[-1]
        if n > c and q[-1] < total * D(10) ** -60:
            break
    p = [x / total for x in q]
    wait = sum(p[c:])
    EQ = sum((k - c) * p[k] for k in range(c, len(p)))
    ab = th * EQ / lam
    occ = lam * (1 - ab) / (c * mu)
    sl = sum(p[:c])
    served_wait = D(0)  # E[W; answered]
    for j in range(0, len(p) - c):
        rates = [c * mu + k * th for k in range(j + 1)]
        g = D(0)
        m = D(0)
        for k, rk in enumerate(rates):
            ck = D(1)
            for i, ri in enumerate(rates):
                if i != k:
                    ck *= ri / (ri - rk)
            g += ck * rk / (rk + th) * (1 - (-(rk + th) * t).exp())
            m += ck * rk / (rk + th) ** 2
        sl += p[c + j] * g
        served_wait += p[c + j] * m
    answered = 1 - ab
    return dict(wait=wait, ab=ab, sl=sl, occ=occ, meanwait=EQ / lam,
                asa=served_wait / answered, states=len(p))


def show(name, d):
    print(name)
    for k, v in d.items():
        print(f"  {k:9s} {v:.15g}" if isinstance(v, D) else f"  {k:9s} {v}")


if __name__ == "__main__":
    # The reference: 100 contacts per 30 min, AHT 180 s, 20 s, 14 agents.
    show("C ref  lam=100/1800 aht=180 c=14 t=20", erlang_c(F(100, 1800), F(180), 14, F(20)))
    show("C ref  lam=100/1800 aht=180 c=13 t=20", erlang_c(F(100, 1800), F(180), 13, F(20)))
    show("C 2E   lam=1/36 aht=72 c=3 t=20", erlang_c(F(1, 36), F(72), 3, F(20)))
    show("C 2E   lam=1/36 aht=72 c=4 t=20", erlang_c(F(1, 36), F(72), 4, F(20)))
    show("C 500E lam=5/2 aht=200 c=530 t=20", erlang_c(F(5, 2), F(200), 530, F(20)))
    show("C 1000E lam=5 aht=200 c=1030 t=15", erlang_c(F(5), F(200), 1030, F(15)))
    show("C tiny lam=1/120 aht=60 c=1 t=10", erlang_c(F(1, 120), F(60), 1, F(10)))
    show("A ref  lam=100/1800 aht=180 pat=300 c=14 t=20", erlang_a(F(100, 1800), F(180), F(300), 14, F(20)))
    show("A ref  lam=100/1800 aht=180 pat=300 c=12 t=20", erlang_a(F(100, 1800), F(180), F(300), 12, F(20)))
    show("A ref  lam=100/1800 aht=180 pat=300 c=13 t=20", erlang_a(F(100, 1800), F(180), F(300), 13, F(20)))
    show("A half lam=100/1800 aht=180 pat=300 c=5 t=20", erlang_a(F(100, 1800), F(180), F(300), 5, F(20)))
    show("A over lam=100/1800 aht=180 pat=60 c=8 t=20", erlang_a(F(100, 1800), F(180), F(60), 8, F(20)))
    show("A fast lam=100/1800 aht=180 pat=5 c=10 t=20", erlang_a(F(100, 1800), F(180), F(5), 10, F(20)))
    show("A 100E lam=1/2 aht=200 pat=120 c=104 t=20", erlang_a(F(1, 2), F(200), F(120), 104, F(20)))
