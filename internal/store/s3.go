package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// The S3 store: objects in an S3-compatible store, named
// s3://BUCKET/KEY, through minio-go. It is configured the standard way:
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or
// the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE);
// AWS_REGION (or AWS_DEFAULT_REGION); and the endpoint from ConfigureS3
// (the --s3-endpoint flag), AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else
// AWS's own. An http:// endpoint is reached without TLS; a custom
// endpoint is addressed path-style (http://host/bucket/key), which every
// S3-compatible server understands.
//
// Requests that fail on the way (refused or reset connections, timeouts,
// 5xx answers, SlowDown) are retried by minio-go, up to s3Retries times
// with exponential backoff capped at a second and full jitter, about ten
// seconds in all; a ranged GET whose body breaks off is resumed where it
// stopped, up to bodyRetries times, with the same kind of backoff. Then
// the operation fails, and with it the task attempt, which the master
// runs again.

const s3Scheme = "s3://"

const (
	// s3Retries is how often minio-go retries a request.
	s3Retries = 10
	// bodyRetries is how often a ranged GET whose body breaks off is
	// resumed.
	bodyRetries = 5
	// readPart is the size of the ranged GETs a large ReadAt is cut
	// into, and readParallel how many of them run at once: one stream
	// per part, so that the store's and the network's latency overlap
	// with the copying.
	readPart     = 8 << 20
	readParallel = 4
	// requestTimeout bounds one request, and the reading of one part.
	requestTimeout = 2 * time.Minute
	// listTimeout bounds the listing of a prefix, which takes a request
	// per thousand keys.
	listTimeout = 10 * time.Minute
)

var (
	s3mu     sync.Mutex // guards s3conf and s3client
	s3conf   S3Config
	s3client *s3Store
)

// S3Config is what the S3 store is configured with besides the
// environment.
type S3Config struct {
	// Endpoint is the store's URL, such as http://127.0.0.1:7070; empty
	// for AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or AWS.
	Endpoint string
}

// ConfigureS3 sets the S3 store's configuration, for the names opened
// after it. Call it at start-up, before any s3:// name is used; a bad
// endpoint is an error here.
func ConfigureS3(c S3Config) error {
	s3mu.Lock()
	defer s3mu.Unlock()
	s3conf, s3client = c, nil
	if c.Endpoint != "" {
		if _, _, err := parseEndpoint(c.Endpoint); err != nil {
			return fmt.Errorf("--s3-endpoint %s: %v", c.Endpoint, err)
		}
	}
	return nil
}

// S3Endpoint is the endpoint the S3 store uses, as configured or found in
// the environment; "" for AWS's.
func S3Endpoint() string {
	s3mu.Lock()
	defer s3mu.Unlock()
	return endpointOf(s3conf)
}

func endpointOf(c S3Config) string {
	for _, e := range []string{c.Endpoint, os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL")} {
		if e != "" {
			return e
		}
	}
	return ""
}

// parseEndpoint splits an endpoint URL into minio-go's host[:port] and
// whether to use TLS. A bare host means https.
func parseEndpoint(e string) (host string, secure bool, err error) {
	if !strings.Contains(e, "://") {
		e = "https://" + e
	}
	u, err := url.Parse(e)
	if err != nil {
		return "", false, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", false, fmt.Errorf("want an http:// or https:// URL")
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", false, fmt.Errorf("want scheme://host[:port] and nothing more")
	}
	return u.Host, u.Scheme == "https", nil
}

// s3Default returns the S3 store, connecting on first use.
func s3Default() (*s3Store, error) {
	s3mu.Lock()
	defer s3mu.Unlock()
	if s3client != nil {
		return s3client, nil
	}
	endpoint := endpointOf(s3conf)
	custom := endpoint != ""
	if !custom {
		endpoint = "https://s3.amazonaws.com"
	}
	host, secure, err := parseEndpoint(endpoint)
	if err != nil {
		return nil, fmt.Errorf("S3 endpoint %s: %v", endpoint, err)
	}
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{},
	})
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" && custom {
		region = "us-east-1" // what S3-compatible stores expect, and no lookup
	}
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, err
	}
	tr.MaxIdleConnsPerHost = 4 * readParallel
	opts := &minio.Options{
		Creds:      creds,
		Secure:     secure,
		Region:     region,
		Transport:  tr,
		MaxRetries: s3Retries,
	}
	if custom {
		opts.BucketLookup = minio.BucketLookupPath
	}
	c, err := minio.New(host, opts)
	if err != nil {
		return nil, fmt.Errorf("S3 endpoint %s: %v", endpoint, err)
	}
	v, _ := creds.Get()
	s3client = &s3Store{c: c, endpoint: endpoint, anonymous: v.AccessKeyID == "", stats: map[string]Info{}}
	return s3client, nil
}

// s3Store is a minio-go client and what it has learnt of objects.
type s3Store struct {
	c         *minio.Client
	endpoint  string
	anonymous bool // no credentials were found

	mu    sync.Mutex      // guards stats
	stats map[string]Info // objects seen in listings, by name
}

// splitURL splits s3://bucket/key into its bucket and key.
func splitURL(name string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(name, s3Scheme)
	if !ok {
		return "", "", fmt.Errorf("%s: not an s3:// URL", name)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" || glob(bucket) {
		return "", "", fmt.Errorf("%s: want s3://BUCKET/KEY, with a bucket name and no pattern in it", name)
	}
	return bucket, key, nil
}

// storeError is an error from the store, which prints as "Code:
// Message" when the store sent an error response.
type storeError struct {
	err      error
	hint     string
	notExist bool // the key is missing
}

func (e *storeError) Error() string {
	r := minio.ToErrorResponse(e.err)
	msg := e.err.Error()
	if r.Code != "" {
		msg = r.Code + ": " + r.Message
		if r.Message == "" {
			msg = r.Code
		}
	}
	return msg + e.hint
}

func (e *storeError) Unwrap() []error {
	if e.notExist {
		return []error{e.err, ErrNotExist}
	}
	return []error{e.err}
}

// wrap turns a minio-go error into one that names the store's code, and
// wraps ErrNotExist for a missing key.
func (s *s3Store) wrap(err error) error {
	if err == nil {
		return nil
	}
	r := minio.ToErrorResponse(err)
	if r.Code == "NoSuchKey" || (r.StatusCode == http.StatusNotFound && r.Code == "") {
		return &storeError{err: err, notExist: true}
	}
	hint := ""
	if s.anonymous && (r.Code == "AccessDenied" || r.StatusCode == http.StatusForbidden) {
		hint = " (no credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
	}
	if r.Code == "" && s.endpoint != "" && !strings.Contains(err.Error(), s.endpoint) {
		hint = " (endpoint " + s.endpoint + ")"
	}
	return &storeError{err: err, hint: hint}
}

// Code returns the store's error code in err, such as NoSuchBucket, or ""
// when err holds none.
func Code(err error) string {
	var se *storeError
	if errors.As(err, &se) {
		return minio.ToErrorResponse(se.err).Code
	}
	return ""
}

// scratch reports whether key lies in a job's scratch "directory" below
// base: a path element after base that starts with ".mr-".
func scratch(base, key string) bool {
	rel := strings.TrimPrefix(key, base)
	for _, el := range strings.Split(rel, "/")[:strings.Count(rel, "/")] {
		if strings.HasPrefix(el, ".mr-") {
			return true
		}
	}
	return false
}

// list returns every object whose key starts with prefix, in key order.
func (s *s3Store) list(ctx context.Context, bucket, prefix string) ([]minio.ObjectInfo, error) {
	var objs []minio.ObjectInfo
	for o := range s.c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, s.wrap(o.Err)
		}
		objs = append(objs, o)
	}
	slices.SortFunc(objs, func(a, b minio.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return objs, nil
}

// Expand: s3://B/K is the object K if there is one, else every object
// under K/ (K/ itself if K ends with '/', or the whole bucket if K is
// empty); s3://B/P with glob characters in P is every object whose key
// matches P, or lies under a "directory" that does, as with
// filepath.Match ('*' does not cross a '/'). Keys ending in '/' (the
// "directory" markers some tools make) are not inputs, nor are keys below
// a ".mr-*" element past the part of P before its first pattern.
func (s *s3Store) Expand(ctx context.Context, arg string) ([]Info, error) {
	bucket, key, err := splitURL(arg)
	if err != nil {
		return nil, fmt.Errorf("input %v", err)
	}
	if glob(key) {
		if _, err := path.Match(key, ""); err != nil {
			return nil, fmt.Errorf("input %s: bad pattern: %w", arg, err)
		}
	}
	prefix := key
	if i := strings.IndexAny(key, "*?["); i >= 0 {
		prefix = key[:strings.LastIndex(key[:i], "/")+1]
	}
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	objs, err := s.list(ctx, bucket, prefix)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", arg, err)
	}
	var files []Info
	add := func(o minio.ObjectInfo, base string) {
		if strings.HasSuffix(o.Key, "/") || scratch(base, o.Key) {
			return
		}
		files = append(files, Info{Name: s3Scheme + bucket + "/" + o.Key, Size: o.Size, ModTime: o.LastModified})
	}
	switch {
	case glob(key):
		for _, o := range objs {
			if matches(key, o.Key) {
				add(o, prefix)
			}
		}
	default:
		dir := key
		if dir != "" && !strings.HasSuffix(dir, "/") {
			dir += "/"
		}
		for _, o := range objs {
			if o.Key == key && key != "" && !strings.HasSuffix(key, "/") {
				files = []Info{{Name: arg, Size: o.Size, ModTime: o.LastModified}} // the object itself
				break
			}
			if strings.HasPrefix(o.Key, dir) {
				add(o, dir)
			}
		}
	}
	if len(files) == 0 {
		what := "no object is named so or lies under it"
		if glob(key) {
			what = "the pattern matches no object"
		}
		return nil, fmt.Errorf("%s: NoSuchKey: %s", arg, what)
	}
	s.mu.Lock()
	for _, f := range files {
		s.stats[f.Name] = f
	}
	s.mu.Unlock()
	return files, nil
}

// matches reports whether pattern matches key, or a "directory" of it (a
// prefix that ends before a '/').
func matches(pattern, key string) bool {
	if ok, _ := path.Match(pattern, key); ok {
		return true
	}
	for i := range len(key) {
		if key[i] == '/' {
			if ok, _ := path.Match(pattern, key[:i]); ok {
				return true
			}
		}
	}
	return false
}

func (s *s3Store) Stat(ctx context.Context, name string) (Info, error) {
	s.mu.Lock()
	fi, ok := s.stats[name]
	s.mu.Unlock()
	if ok {
		return fi, nil
	}
	bucket, key, err := splitURL(name)
	if err != nil {
		return Info{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	o, err := s.c.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s.wrap(err)
	}
	return Info{Name: name, Size: o.Size, ModTime: o.LastModified}, nil
}

// Open finds the object's size and version (its ETag) with one request;
// reads then fetch ranges of that version only, so an object replaced
// while a job reads it is an error, not a mix of two versions.
func (s *s3Store) Open(ctx context.Context, name string) (File, error) {
	bucket, key, err := splitURL(name)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	o, err := s.c.StatObject(sctx, bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return nil, s.wrap(err)
	}
	return &s3File{s: s, ctx: ctx, bucket: bucket, key: key, size: o.Size, etag: o.ETag}, nil
}

// s3File reads an object with ranged GETs.
type s3File struct {
	s           *s3Store
	ctx         context.Context
	bucket, key string
	size        int64
	etag        string
	off         int64 // for Read and Seek
}

func (f *s3File) Size() int64  { return f.size }
func (f *s3File) Close() error { return nil }

func (f *s3File) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.off)
	f.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (f *s3File) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		offset += f.size
	}
	if offset < 0 {
		return 0, fmt.Errorf("seek %s: negative offset", f.key)
	}
	f.off = offset
	return offset, nil
}

// ReadAt reads len(p) bytes at off, or up to the end of the object, then
// io.EOF. A large read is cut into parts of readPart bytes fetched
// readParallel at a time, each into its own place in p.
func (f *s3File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s: negative offset", f.key)
	}
	if off >= f.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), f.size-off))
	var err error
	if n <= readPart {
		err = f.get(p[:n], off)
	} else {
		err = f.getParallel(p[:n], off)
	}
	if err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// getParallel fills p from off with parts fetched readParallel at a time;
// the first error stops the others and is returned, once they have all
// returned.
func (f *s3File) getParallel(p []byte, off int64) error {
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	parts := make(chan int)
	errs := make(chan error, readParallel)
	var wg sync.WaitGroup
	for range readParallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := range parts {
				end := min(start+readPart, len(p))
				if err := f.getCtx(ctx, p[start:end], off+int64(start)); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
feed:
	for start := 0; start < len(p); start += readPart {
		select {
		case parts <- start:
		case <-ctx.Done():
			break feed
		}
	}
	close(parts)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return f.ctx.Err()
}

func (f *s3File) get(p []byte, off int64) error { return f.getCtx(f.ctx, p, off) }

// getCtx fills p with the object's bytes from off, with one ranged GET,
// resumed where it broke off up to bodyRetries times.
func (f *s3File) getCtx(ctx context.Context, p []byte, off int64) error {
	done := 0
	for try := 0; ; try++ {
		n, err := f.getOnce(ctx, p[done:], off+int64(done))
		done += n
		if err == nil {
			return nil
		}
		if try >= bodyRetries || ctx.Err() != nil || Code(err) != "" {
			return fmt.Errorf("read %s%s/%s bytes %d-%d: %w", s3Scheme, f.bucket, f.key, off+int64(done), off+int64(len(p)), err)
		}
		if !backoff(ctx, try) {
			return ctx.Err()
		}
	}
}

// getOnce issues one ranged GET for len(p) bytes at off and reads its body
// into p, returning how much it read.
func (f *s3File) getOnce(ctx context.Context, p []byte, off int64) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var opts minio.GetObjectOptions
	opts.SetRange(off, off+int64(len(p))-1)
	if f.etag != "" {
		opts.SetMatchETag(f.etag)
	}
	o, err := f.s.c.GetObject(ctx, f.bucket, f.key, opts)
	if err != nil {
		return 0, f.s.wrap(err)
	}
	defer o.Close()
	n, err := io.ReadFull(o, p)
	if err != nil {
		if r := minio.ToErrorResponse(err); r.Code != "" {
			return n, f.s.wrap(err)
		}
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			err = fmt.Errorf("the object ended early, at %d bytes of %d asked for", n, len(p))
		}
	}
	return n, err
}

// backoff sleeps before retry try (0, 1, ...): a random time up to 100 ms
// doubled try times, at most 2 s. It returns false if ctx ends first.
func backoff(ctx context.Context, try int) bool {
	d := min(100*time.Millisecond<<try, 2*time.Second)
	t := time.NewTimer(rand.N(d) + d/4)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Put uploads the object in one PUT, or in a multipart upload that the
// store makes visible only when it completes; minio-go aborts one that
// fails.
func (s *s3Store) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	bucket, key, err := splitURL(name)
	if err != nil {
		return err
	}
	// A second per MiB on top of a request's bound: generous for any link,
	// and still an end to an upload that has stalled.
	ctx, cancel := context.WithTimeout(ctx, requestTimeout+time.Duration(size>>20)*time.Second)
	defer cancel()
	opts := minio.PutObjectOptions{ContentType: contentType(key)}
	if size == 0 {
		// Without TLS, minio-go signs the body in chunks; an empty body
		// is then one closing chunk, which some stores (versitygw) leave
		// unread on the connection, and answer as a bad request later.
		// An empty body has nothing to protect.
		opts.DisableContentSha256 = true
	}
	_, err = s.c.PutObject(ctx, bucket, key, r, size, opts)
	return s.wrap(err)
}

// contentType is what outputs are served as.
func contentType(key string) string {
	switch filepath.Ext(key) {
	case ".json":
		return "application/json"
	case ".parquet", ".arrow":
		return "application/vnd.apache." + strings.TrimPrefix(filepath.Ext(key), ".")
	}
	return "application/octet-stream"
}

// Commit copies from to to on the server (a copy appears whole, and a
// large one is copied in parts and completed at once), then removes from.
func (s *s3Store) Commit(ctx context.Context, from, to string) error {
	fb, fk, err := splitURL(from)
	if err != nil {
		return err
	}
	tb, tk, err := splitURL(to)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*requestTimeout)
	defer cancel()
	_, err = s.c.ComposeObject(ctx,
		minio.CopyDestOptions{Bucket: tb, Object: tk, ReplaceMetadata: true, ContentType: contentType(tk)},
		minio.CopySrcOptions{Bucket: fb, Object: fk})
	if err != nil {
		return s.wrap(err)
	}
	return s.wrap(s.c.RemoveObject(ctx, fb, fk, minio.RemoveObjectOptions{}))
}

func (s *s3Store) Remove(ctx context.Context, names ...string) error {
	for _, n := range names {
		bucket, key, err := splitURL(n)
		if err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		err = s.c.RemoveObject(rctx, bucket, key, minio.RemoveObjectOptions{})
		cancel()
		if err != nil && !errors.Is(s.wrap(err), ErrNotExist) {
			return fmt.Errorf("remove %s: %w", n, s.wrap(err))
		}
	}
	return nil
}

// RemoveAll removes every object under dir/, and aborts the unfinished
// multipart uploads there, such as those of an attempt killed while it
// uploaded.
func (s *s3Store) RemoveAll(ctx context.Context, dir string) error {
	bucket, key, err := splitURL(dir)
	if err != nil {
		return err
	}
	prefix := strings.TrimSuffix(key, "/") + "/"
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	objs, err := s.list(ctx, bucket, prefix)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := s.c.RemoveObject(ctx, bucket, o.Key, minio.RemoveObjectOptions{}); err != nil && !errors.Is(s.wrap(err), ErrNotExist) {
			return fmt.Errorf("remove %s%s/%s: %w", s3Scheme, bucket, o.Key, s.wrap(err))
		}
	}
	for u := range s.c.ListIncompleteUploads(ctx, bucket, prefix, true) {
		if u.Err != nil {
			break // a store without multipart listing has none to abort
		}
		s.c.RemoveIncompleteUpload(ctx, bucket, u.Key)
	}
	return nil
}

func (s *s3Store) List(ctx context.Context, dir string) ([]string, error) {
	bucket, key, err := splitURL(dir)
	if err != nil {
		return nil, err
	}
	prefix := strings.TrimSuffix(key, "/") + "/"
	if key == "" {
		prefix = ""
	}
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	var names []string
	for o := range s.c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if o.Err != nil {
			return nil, s.wrap(o.Err)
		}
		if name := strings.TrimPrefix(o.Key, prefix); name != "" && !strings.Contains(strings.TrimSuffix(name, "/"), "/") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// CheckBucket checks that the bucket of the s3:// URL name exists and
// that this process may list it, for a clear error at start.
func CheckBucket(ctx context.Context, name string) error {
	s, err := s3Default()
	if err != nil {
		return err
	}
	bucket, key, err := splitURL(name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	for o := range s.c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: key, MaxKeys: 1}) {
		if o.Err != nil {
			return fmt.Errorf("%s: %w", name, s.wrap(o.Err))
		}
		break
	}
	return nil
}
