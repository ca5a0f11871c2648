package s3api

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"strconv"
	"strings"
)

// chunkedReader decodes an aws-chunked body (Content-Encoding: aws-chunked):
//
//	hex-size[;chunk-signature=SIG]\r\n DATA \r\n ... 0[;chunk-signature=SIG]\r\n [trailers] \r\n
//
// It returns only the data, never the framing. With a signer it verifies
// every chunk's signature (each signs its data and the previous signature,
// starting from the request's seed signature) and, in the signed trailer
// mode, the trailer signature. Trailers (e.g. x-amz-checksum-crc32) are
// collected for the caller after EOF. A bad signature or framing is an
// error from Read; callers discard everything read (nothing is committed
// before EOF).
type chunkedReader struct {
	r *bufio.Reader
	// signer verifies chunk signatures; nil for STREAMING-UNSIGNED-PAYLOAD-TRAILER.
	signer   *signature
	prevSig  string
	trailers bool // trailers follow the final chunk

	left      int64 // data bytes left in the current chunk
	inChunk   bool
	chunkSig  string
	chunkHash hash.Hash
	decoded   int64

	// Trailer holds the trailing headers, names in lower case, after EOF.
	Trailer map[string]string
	err     error
}

// maxChunkSize bounds one chunk; clients send 8 KiB to a few MiB.
const maxChunkSize = 64 << 20

func newChunkedReader(body io.Reader, signer *signature, trailers bool) *chunkedReader {
	c := &chunkedReader{r: bufio.NewReaderSize(body, 64<<10), signer: signer, trailers: trailers, Trailer: map[string]string{}}
	if signer != nil {
		c.prevSig = signer.seed
		c.chunkHash = sha256.New()
	}
	return c
}

// errChunk builds the error of a malformed or mis-signed body.
func errChunk(code, format string, args ...any) error { return s3Error(code, format, args...) }

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	for c.left == 0 {
		if c.inChunk {
			if err := c.endChunk(); err != nil {
				c.err = err
				return 0, err
			}
		}
		if err := c.nextChunk(); err != nil {
			c.err = err
			return 0, err
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	c.decoded += int64(n)
	if c.chunkHash != nil {
		c.chunkHash.Write(p[:n])
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		c.err = errChunk("IncompleteBody", "the aws-chunked body ended inside a chunk")
		return n, c.err
	}
	return n, nil
}

// endChunk consumes the CRLF after a chunk's data and checks its signature.
func (c *chunkedReader) endChunk() error {
	c.inChunk = false
	var crlf [2]byte
	if _, err := io.ReadFull(c.r, crlf[:]); err != nil || crlf != [2]byte{'\r', '\n'} {
		return errChunk("IncompleteBody", "malformed aws-chunked body: a chunk's data is not followed by CRLF")
	}
	return c.checkChunkSignature()
}

func (c *chunkedReader) checkChunkSignature() error {
	if c.signer == nil {
		return nil
	}
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + c.signer.amzDate + "\n" + c.signer.scope + "\n" + c.prevSig + "\n" +
		emptySHA256 + "\n" + hex.EncodeToString(c.chunkHash.Sum(nil))
	want := sign(c.signer.key, sts)
	if !hmac.Equal([]byte(want), []byte(c.chunkSig)) {
		return errChunk("SignatureDoesNotMatch", "the chunk signature does not match the chunk's data")
	}
	c.prevSig = c.chunkSig
	c.chunkHash.Reset()
	return nil
}

// readLine reads one CRLF-terminated line (at most the buffer's size).
func (c *chunkedReader) readLine() (string, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return "", errChunk("IncompleteBody", "malformed aws-chunked body: line too long")
		}
		if err == io.EOF && len(line) == 0 {
			return "", io.EOF
		}
		return "", errChunk("IncompleteBody", "malformed aws-chunked body: unexpected end")
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r"), nil
}

// nextChunk reads a chunk header; after the final chunk it reads the
// trailers and reports io.EOF.
func (c *chunkedReader) nextChunk() error {
	line, err := c.readLine()
	if err == io.EOF {
		return errChunk("IncompleteBody", "the aws-chunked body ended before its final chunk")
	}
	if err != nil {
		return err
	}
	sizeHex, ext, _ := strings.Cut(line, ";")
	size, err := strconv.ParseInt(strings.TrimSpace(sizeHex), 16, 64)
	if err != nil || size < 0 || size > maxChunkSize || len(sizeHex) > 16 {
		return errChunk("IncompleteBody", "malformed aws-chunked body: bad chunk size %q", clip(sizeHex))
	}
	c.chunkSig = ""
	if c.signer != nil {
		sig, ok := strings.CutPrefix(ext, "chunk-signature=")
		if !ok || len(sig) != 64 || !isLowerHex(sig) {
			return errChunk("IncompleteBody", "malformed aws-chunked body: missing or malformed chunk-signature")
		}
		c.chunkSig = sig
	}
	if size > 0 {
		c.left, c.inChunk = size, true
		return nil
	}
	// The final, empty chunk.
	if err := c.checkChunkSignature(); err != nil {
		return err
	}
	if err := c.readTrailers(); err != nil {
		return err
	}
	return io.EOF
}

// readTrailers reads "name:value" lines up to an empty line (or the end of
// the body) and verifies x-amz-trailer-signature in the signed mode.
func (c *chunkedReader) readTrailers() error {
	var canonical bytes.Buffer
	trailerSig := ""
	for {
		line, err := c.readLine()
		if err == io.EOF || (err == nil && line == "") {
			break
		}
		if err != nil {
			return err
		}
		if !c.trailers {
			return errChunk("IncompleteBody", "malformed aws-chunked body: data after the final chunk")
		}
		name, value, ok := strings.Cut(line, ":")
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if !ok || name == "" || len(c.Trailer) > 16 {
			return errChunk("IncompleteBody", "malformed trailer in the aws-chunked body")
		}
		if name == "x-amz-trailer-signature" {
			trailerSig = value
			continue
		}
		c.Trailer[name] = value
		canonical.WriteString(name + ":" + value + "\n")
	}
	if c.signer != nil && c.trailers {
		sum := sha256.Sum256(canonical.Bytes())
		sts := "AWS4-HMAC-SHA256-TRAILER\n" + c.signer.amzDate + "\n" + c.signer.scope + "\n" + c.prevSig + "\n" + hex.EncodeToString(sum[:])
		if !hmac.Equal([]byte(sign(c.signer.key, sts)), []byte(trailerSig)) {
			return errChunk("SignatureDoesNotMatch", "the trailer signature does not match the trailing headers")
		}
	}
	return nil
}

// Decoded is the number of data bytes returned so far.
func (c *chunkedReader) Decoded() int64 { return c.decoded }
