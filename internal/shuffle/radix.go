package shuffle

// radixSort sorts ents by partition, then key prefix, stably, so that
// entries with equal partitions and prefixes keep their emission order. It
// is a least-significant-digit radix sort on bytes: the 8 bytes of the
// prefix from the last, then the partition's bytes, each a counting pass
// from one slice into the other. A pass in which every entry has the same
// byte, such as the zero padding of short keys or the high bytes of small
// partition numbers, is skipped. tmp must be as long as ents; the sorted
// entries are in whichever of the two the last pass wrote, which it
// returns.
//
// Against a comparison sort of 100-byte records' entries (pdqsort with a
// prefix comparison), this does about a dozen sequential passes instead of
// log2(n) rounds of unpredictable branches, and needs no tie-break, since
// it is stable.
func radixSort(ents, tmp []entry) []entry {
	if len(ents) == 0 {
		return ents
	}
	const digits = 12 // 8 prefix bytes, then 4 partition bytes
	var counts [digits][256]int
	for i := range ents {
		e := &ents[i]
		for d := range 8 {
			counts[d][byte(e.prefix>>(8*d))]++
		}
		for d := range 4 {
			counts[8+d][byte(e.part>>(8*d))]++
		}
	}
	src, dst := ents, tmp
	for d := range digits {
		c := &counts[d]
		if c[digit(&src[0], d)] == len(src) {
			continue // every entry has this byte: nothing moves
		}
		var pos [256]int
		sum := 0
		for i, n := range c {
			pos[i] = sum
			sum += n
		}
		for i := range src {
			k := digit(&src[i], d)
			dst[pos[k]] = src[i]
			pos[k]++
		}
		src, dst = dst, src
	}
	return src
}

// digit returns byte d of e's sort key: bytes 0-7 are the prefix's from
// its least significant, 8-11 the partition's.
func digit(e *entry, d int) byte {
	if d < 8 {
		return byte(e.prefix >> (8 * d))
	}
	return byte(e.part >> (8 * (d - 8)))
}
