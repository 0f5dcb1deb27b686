// Package codec is the engine's intermediate-data format: sorted runs of
// (key, value) records that map tasks write and reduce tasks merge.
//
// A run is a 10-byte header ("gomr-run", a format version, a codec byte),
// then one compressed stream holding the records, each
// uvarint(2*(len(key)+1)) key uvarint(len(value)) value, or an odd uvarint
// that repeats the record before it, and a trailer of a zero byte and the
// record count. The header lets a Reader reject a file that is
// not a run before decompressing anything; the trailer makes a truncated
// run an error rather than a shorter run (see run.go). Writer writes runs,
// Reader reads them back, and Merger merges sorted runs into key groups for
// Reduce, holding one record per run.
//
// Every malformed input gives an error wrapping ErrCorrupt. A Reader never
// sizes a buffer from a length it has read: buffers grow only as
// decompressed bytes arrive, and no record may exceed MaxRecord (1 GiB).
//
// # Integrity
//
// A run needs no checksum of its own: the s2 framing carries a CRC-32C
// (Castagnoli) of each block's uncompressed data, which the decoder checks
// before it hands out a byte of the block, and the Reader keeps those
// checks on. What the framing lets through, a Reader refuses: s2 skips
// padding and "skippable" chunks silently, so one flipped bit in a chunk's
// type would drop a whole block, and the trailer's count would notice only
// after records spliced from the blocks around it had been returned; a
// Reader accepts only the chunk types a Writer makes (see s2Frames). A cut
// at a block boundary, or a dropped or repeated block, fails the
// trailer's count. So every record a Reader returns comes from blocks
// that passed their CRC, in the order written, and a damaged run gives
// ErrCorrupt before any record the damage could have changed.
//
// Measured by flipping every byte of a 12 KiB run with four masks and of a
// 90 KiB run (compressed and stored blocks) with two, 232,000 damaged
// runs: every one gave ErrCorrupt, or, 82 times, decoded to exactly the
// records written (bits the decoder ignores); none returned a wrong
// record. Before the chunk types were checked, a flip of 0x80 in a chunk
// type did. TestCorruptionDetected keeps a sample of this. Checking the
// chunk types costs about 3 µs per 90 KiB run, copying included, against
// about 1.1 ms to read its records: 0.3%, below the Read benchmarks' noise.
//
// zstd, kept for the benchmarks, checks a checksum of the whole frame only
// at its end: a damaged zstd run still gives ErrCorrupt, but may return
// wrong records first.
//
// A Merger reports which run failed (RunError), so that a reduce can name
// the map task whose output was damaged and have it run again.
//
// # Compression: s2, by measurement
//
// The runs are compressed with s2 (github.com/klauspost/compress/s2) in
// 32 KiB blocks. zstd (SpeedFastest, one goroutine, 32 KiB window) was the
// alternative; both stay readable, and
//
//	go test -run '^$' -bench . -benchmem ./internal/codec
//
// compares them on word-count runs: "ones", 300,000 sorted (word, "1")
// pairs over a 50,000-word Zipf vocabulary (2.2 MB of keys and values), and
// "counts", 1,000,000 such words combined into 42,000 (word, count)
// pairs; Merge merges 32 runs of each form, each a 32nd the size. MB/s
// counts key and value bytes; ratio is uncompressed record bytes over run
// size. Measured on a 2-core 2.5 GHz Xeon shared with other jobs, so these
// are the best and the median of 16 to 31 runs:
//
//	                   s2 MB/s     zstd MB/s   s2 ratio  zstd ratio
//	Write ones         284 / 175   173 / 115   10.7      17.1
//	Write counts       243 / 146    88 /  68    1.00      1.59
//	Read ones          443 / 318   417 / 268
//	Read counts        715 / 489   342 / 246
//	Merge ones (32)     66 /  54    60 /  48
//	Merge counts (32)   34 /  28    36 /  26
//
// By the medians s2 writes 1.5 to 2.1 times as fast and reads 1.2 to 2
// times as fast; zstd makes runs 1.6 times smaller. s2 sends a "ones" run
// to disk at up to 35 MB/s, and a "counts" run, which it does not shrink,
// at up to the 300 MB/s it writes records; but a Combine has already cut
// those to a twentieth of the ones' bytes per input word, and runs are
// read back soon enough to come from the page cache. So on two cores
// the shuffle is bound by CPU rather than by bytes, and s2 wins; zstd would
// win over a network or a slow disk. The merge barely depends on the
// codec: there the cost is comparing keys across runs and making a string
// per key.
//
// Two things the measurements turned up. zstd's fastest level stores a
// block raw when it finds no matches, which left combined runs of distinct
// words uncompressed (ratio 1.00) until entropy coding of literals was
// forced on; the setting stays, for the benchmarks. s2 has no entropy
// stage, so combined runs stay at 1.00 with it: their bytes are distinct
// keys with short counts, and the cost is only the size of small runs.
// And the block or window size hardly matters: from 16 KiB to 1 MiB both
// codecs' ratios move by under 2%, because a sorted run's redundancy lies
// between neighbouring records. So blocks are small, for memory.
//
// # Memory
//
// A reduce may hold hundreds of runs open, so what an open Reader holds
// matters more than speed at the margin. With 32 KiB blocks an open s2
// Reader holds about 90 KiB (a decoded block, a compressed block, and the
// Reader's 16 KiB buffer), so 500 open runs take about 45 MB; a zstd Reader
// holds about 200 KiB, the window ring and block buffers. An open s2 Writer
// holds about 50 KiB, a zstd Writer about 330 KiB. The library defaults
// (s2 decoders sized for 4 MiB blocks, zstd windows of several MiB) would
// cost megabytes per run. TestReaderMemory checks the Reader figure.
// Encoders and decoders are pooled across runs, which saves allocation but
// not the memory of runs open at once.
package codec
