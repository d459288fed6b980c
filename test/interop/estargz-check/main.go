// estargz-check: drives the reference Go estargz package (Debian's
// golang-github-containerd-stargz-snapshotter-dev) so edgebuild's TypeScript eStargz code can be
// checked against it in both directions.
//
//	estargz-check verify <blob> [expected-toc-digest]
//	    Opens the blob with the reference reader (gzip eStargz, legacy stargz or zstd:chunked),
//	    checks the TOC digest, reads every file and checks every chunk digest, then prints one JSON
//	    object: tocDigest, diffID (sha256 of the unpacked stream) and files (name → sha256, size,
//	    type, mode, uid, gid, linkName, devMajor, devMinor, xattrs, offset of its tar header in the
//	    blob, so the order of entries shows). Exit status 1 on any failure.
//	estargz-check build <in.tar> <out.blob> [-zstd] [-chunk-size N] [-prioritized a,b,...]
//	    Converts a tar with the reference builder; prints tocDigest and diffID as JSON.
//	    -level N sets the gzip level (reference default 9).
//	estargz-check members <blob> [-level N]
//	    Walks the gzip members of a blob (eStargz payload, TOC member, footer) and prints one JSON
//	    line per member: blob offset, compressed and uncompressed size, and the size and time Go's
//	    compress/gzip at level N (default 9, as the reference writes) gives on the same member
//	    bytes. bench/convert.ts uses it to split a size difference into codec and layout parts.
//
// Build (GOPATH mode against Debian's packaged sources):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o estargz-check .
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/containerd/stargz-snapshotter/estargz"
	"github.com/containerd/stargz-snapshotter/estargz/zstdchunked"
	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
)

type fileInfo struct {
	Type     string            `json:"type"`
	Size     int64             `json:"size"`
	Mode     int64             `json:"mode"`
	UID      int               `json:"uid"`
	GID      int               `json:"gid"`
	Uname    string            `json:"userName,omitempty"`
	Gname    string            `json:"groupName,omitempty"`
	LinkName string            `json:"linkName,omitempty"`
	DevMajor int               `json:"devMajor,omitempty"`
	DevMinor int               `json:"devMinor,omitempty"`
	ModTime  string            `json:"modtime,omitempty"`
	Xattrs   map[string][]byte `json:"xattrs,omitempty"`
	Digest   string            `json:"digest,omitempty"`
	Chunks   int               `json:"chunks,omitempty"`
	Offset   int64             `json:"offset"`
}

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "estargz-check: "+format+"\n", args...)
	os.Exit(1)
}

func isZstdChunked(sr *io.SectionReader) bool {
	if sr.Size() < 8 {
		return false
	}
	tail := make([]byte, 8)
	if _, err := sr.ReadAt(tail, sr.Size()-8); err != nil {
		return false
	}
	return string(tail) == "GnUlInUx"
}

func verify(blobPath, wantTOC string) {
	f, err := os.Open(blobPath)
	if err != nil {
		die("%v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		die("%v", err)
	}
	sr := io.NewSectionReader(f, 0, st.Size())
	r, err := estargz.Open(sr, estargz.WithDecompressors(new(zstdchunked.Decompressor)))
	if err != nil {
		die("open: %v", err)
	}
	if wantTOC == "" {
		wantTOC = r.TOCDigest().String()
	}
	verifiers, err := r.VerifyTOC(digest.Digest(wantTOC))
	if err != nil {
		die("verify TOC: %v", err)
	}

	files := map[string]fileInfo{}
	var walk func(dir string, e *estargz.TOCEntry)
	walk = func(name string, e *estargz.TOCEntry) {
		info := fileInfo{Type: e.Type, Size: e.Size, Mode: e.Mode, UID: e.UID, GID: e.GID, Uname: e.Uname, Gname: e.Gname,
			LinkName: e.LinkName, DevMajor: e.DevMajor, DevMinor: e.DevMinor, ModTime: e.ModTime3339, Xattrs: e.Xattrs,
			Offset: e.Offset}
		if e.Type == "reg" {
			// Check every chunk against its digest, the way stargz-snapshotter does before caching.
			fr, err := r.OpenFile(name)
			if err != nil {
				die("open file %q: %v", name, err)
			}
			for off := int64(0); off < e.Size; {
				ce, ok := r.ChunkEntryForOffset(name, off)
				if !ok {
					die("file %q: no chunk at offset %d", name, off)
				}
				v, err := verifiers.Verifier(ce)
				if err != nil {
					die("file %q: chunk at %d: %v", name, off, err)
				}
				if _, err := io.Copy(v, io.NewSectionReader(fr, ce.ChunkOffset, ce.ChunkSize)); err != nil {
					die("file %q: read chunk at %d: %v", name, off, err)
				}
				if !v.Verified() {
					die("file %q: chunk at %d: digest mismatch", name, off)
				}
				info.Chunks++
				off = ce.ChunkOffset + ce.ChunkSize
			}
			h := sha256.New()
			if _, err := io.Copy(h, io.NewSectionReader(fr, 0, e.Size)); err != nil {
				die("read file %q: %v", name, err)
			}
			info.Digest = fmt.Sprintf("sha256:%x", h.Sum(nil))
			if e.Digest != "" && e.Digest != info.Digest {
				die("file %q: content digest %s, TOC says %s", name, info.Digest, e.Digest)
			}
		}
		if name != "" {
			files[name] = info
		}
		e.ForeachChild(func(base string, child *estargz.TOCEntry) bool {
			childName := path.Join(name, base)
			if child.Type == "hardlink" || (child.Name != childName && child.Type != "dir") {
				// The reference resolves hardlinks to their target entry: report the link itself.
				files[childName] = fileInfo{Type: "hardlink", LinkName: strings.TrimPrefix(path.Clean("/"+child.Name), "/")}
				return true
			}
			walk(childName, child)
			return true
		})
	}
	root, ok := r.Lookup("")
	if !ok {
		die("no root directory")
	}
	walk("", root)

	// The diffID a converted layer gets is the sha256 of the whole blob decompressed (TOC entry
	// included for gzip; zstd readers skip the TOC's skippable frame), as Build computes it.
	// (estargz.Unpack stops before the TOC, so it is not used here.)
	var ur io.Reader
	whole := io.NewSectionReader(f, 0, st.Size())
	if isZstdChunked(sr) {
		zr, err := zstd.NewReader(whole)
		if err != nil {
			die("unpack: %v", err)
		}
		defer zr.Close()
		ur = zr
	} else {
		gr, err := gzip.NewReader(whole)
		if err != nil {
			die("unpack: %v", err)
		}
		ur = gr
	}
	dh := sha256.New()
	n, err := io.Copy(dh, ur)
	if err != nil {
		die("unpack: %v", err)
	}
	out := map[string]interface{}{
		"tocDigest":        r.TOCDigest().String(),
		"diffID":           fmt.Sprintf("sha256:%x", dh.Sum(nil)),
		"uncompressedSize": n,
		"files":            files,
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		die("%v", err)
	}
}

// zstdCompression pairs the zstd:chunked compressor and decompressor, as Build needs both.
type zstdCompression struct {
	*zstdchunked.Compressor
	*zstdchunked.Decompressor
}

func build(args []string) {
	fs := flag.NewFlagSet("build", flag.ExitOnError)
	useZstd := fs.Bool("zstd", false, "write zstd:chunked")
	chunkSize := fs.Int("chunk-size", 0, "chunk size (0 = reference default)")
	prioritized := fs.String("prioritized", "", "comma-separated prioritized files")
	level := fs.Int("level", gzip.BestCompression, "gzip compression level")
	if len(args) < 2 {
		die("usage: build <in.tar> <out.blob> [flags]")
	}
	if err := fs.Parse(args[2:]); err != nil {
		die("%v", err)
	}
	in, err := os.Open(args[0])
	if err != nil {
		die("%v", err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		die("%v", err)
	}
	opts := []estargz.Option{estargz.WithChunkSize(*chunkSize), estargz.WithCompressionLevel(*level)}
	if *prioritized != "" {
		opts = append(opts, estargz.WithPrioritizedFiles(strings.Split(*prioritized, ",")))
	}
	if *useZstd {
		opts = append(opts, estargz.WithCompression(zstdCompression{
			&zstdchunked.Compressor{CompressionLevel: zstd.SpeedDefault}, new(zstdchunked.Decompressor)}))
	}
	blob, err := estargz.Build(io.NewSectionReader(in, 0, st.Size()), opts...)
	if err != nil {
		die("build: %v", err)
	}
	defer blob.Close()
	out, err := os.Create(args[1])
	if err != nil {
		die("%v", err)
	}
	if _, err := io.Copy(out, blob); err != nil {
		die("write: %v", err)
	}
	if err := out.Close(); err != nil {
		die("%v", err)
	}
	res := map[string]string{"tocDigest": blob.TOCDigest().String(), "diffID": blob.DiffID().String()}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		die("%v", err)
	}
}

// byteCounter counts what gzip.Reader consumes; as an io.ByteReader it is used unbuffered, so the
// count is exactly where each member ends.
type byteCounter struct {
	r *bufio.Reader
	n int64
}

func (c *byteCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *byteCounter) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

type memberInfo struct {
	Offset     int64 `json:"offset"`
	Compressed int64 `json:"compressed"`
	Plain      int64 `json:"plain"`
	GoSize     int64 `json:"goSize"`
	GoNanos    int64 `json:"goNanos"`
}

func members(args []string) {
	fs := flag.NewFlagSet("members", flag.ExitOnError)
	level := fs.Int("level", gzip.BestCompression, "gzip level to recompress each member with")
	if len(args) < 1 {
		die("usage: members <blob> [-level N]")
	}
	if err := fs.Parse(args[1:]); err != nil {
		die("%v", err)
	}
	f, err := os.Open(args[0])
	if err != nil {
		die("%v", err)
	}
	defer f.Close()
	in := &byteCounter{r: bufio.NewReaderSize(f, 1<<20)}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	var zr *gzip.Reader
	var recompressed bytes.Buffer
	for {
		start := in.n
		if zr == nil {
			zr, err = gzip.NewReader(in)
		} else {
			err = zr.Reset(in)
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			die("member at %d: %v", start, err)
		}
		zr.Multistream(false)
		plain, err := io.ReadAll(zr)
		if err != nil {
			die("member at %d: %v", start, err)
		}
		recompressed.Reset()
		t0 := time.Now()
		zw, err := gzip.NewWriterLevel(&recompressed, *level)
		if err != nil {
			die("%v", err)
		}
		zw.Write(plain)
		zw.Close()
		nanos := time.Since(t0).Nanoseconds()
		if err := enc.Encode(memberInfo{start, in.n - start, int64(len(plain)), int64(recompressed.Len()), nanos}); err != nil {
			die("%v", err)
		}
	}
}

func main() {
	if len(os.Args) < 2 {
		die("usage: estargz-check verify <blob> [toc-digest] | build <in.tar> <out.blob> [-zstd] [-chunk-size N] [-prioritized a,b] [-level N] | members <blob> [-level N]")
	}
	switch os.Args[1] {
	case "verify":
		if len(os.Args) < 3 {
			die("usage: verify <blob> [toc-digest]")
		}
		want := ""
		if len(os.Args) > 3 {
			want = os.Args[3]
		}
		verify(os.Args[2], want)
	case "build":
		build(os.Args[2:])
	case "members":
		members(os.Args[2:])
	default:
		die("unknown command %q", os.Args[1])
	}
}
