package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"gomr.dev/internal/app"
	"gomr.dev/internal/auth"
	"gomr.dev/internal/format"
	"gomr.dev/internal/inputs"
	"gomr.dev/internal/store"
	"gomr.dev/master"
	"gomr.dev/mr"
	"gomr.dev/worker"
)

// jobFlags are the flags that describe a job, shared by master and run.
type jobFlags struct {
	nReduce       int
	out           string
	taskTimeout   time.Duration
	workerTimeout time.Duration
	maxAttempts   int
	splitSize     sizeFlag
	mapMemory     sizeFlag
	mergeFactor   int
	params        []string
	secretFile    string
	http          string
	httpGrace     time.Duration
	output        outputFlags
	columns       string
	skipBad       int
	backupTasks   bool
	fresh         bool
	s3            s3Flags
	stateDir      string
}

// outputFlags choose the format of a job's output files.
type outputFlags struct {
	format      string
	compression string
}

func (o *outputFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.format, "output-format", "text", "format of the mr-out-* files: text (key value lines), parquet or arrow (Arrow IPC file)")
	fs.StringVar(&o.compression, "parquet-compression", "zstd", "codec of Parquet output pages: zstd, snappy, gzip or none")
}

// check turns a format or codec the writers do not know into a usage error.
func (o *outputFlags) check(fs *pflag.FlagSet) error {
	if _, err := format.OutputNamed(o.format); err != nil {
		return usageError(fs, "%v", err)
	}
	if err := format.CheckOptions(format.OutputOptions{Compression: o.compression}); err != nil {
		return usageError(fs, "%v", err)
	}
	return nil
}

func (j *jobFlags) register(fs *pflag.FlagSet) {
	fs.IntVar(&j.nReduce, "nreduce", 10, "number of reduce tasks, and of mr-out-* files")
	fs.StringVar(&j.out, "out", ".", "directory for the mr-out-* files")
	fs.DurationVar(&j.taskTimeout, "task-timeout", 10*time.Second, "give a task to another worker after its worker is silent this long")
	fs.DurationVar(&j.workerTimeout, "worker-timeout", 0, "declare a worker dead after it is silent this long, and run the map tasks whose output it held again (default: --task-timeout)")
	fs.IntVar(&j.maxAttempts, "max-attempts", 4, "fail the job when one task has failed this many times")
	fs.IntVar(&j.skipBad, "skip-bad-records", 0, "leave out up to this many bad records, input lines or reduce keys that crashed two attempts, rather than fail the job; 0 = off")
	fs.BoolVar(&j.fresh, "fresh", false, "discard the state of an unfinished job in --out (one whose master crashed or was interrupted) rather than resume it")
	fs.BoolVar(&j.backupTasks, "backup-tasks", true, "near the end of a phase, run a second attempt of a task that is much slower than its peers; the first to finish wins")
	j.splitSize, j.mapMemory = 64<<20, 64<<20
	fs.Var(&j.splitSize, "split-size", "cut input files larger than this at line boundaries, and pack smaller ones into tasks up to it; 0 = never cut")
	fs.Var(&j.mapMemory, "map-memory", "map-side sort buffer per task; a task spills sorted runs to disk when it fills")
	fs.IntVar(&j.mergeFactor, "merge-factor", 64, "most sorted runs merged at once; more are merged in several passes")
	fs.StringArrayVar(&j.params, "param", nil, "job parameter name=value for the app (mr.Param); repeatable")
	fs.StringVar(&j.secretFile, "secret-file", "", "file holding a shared secret every worker must prove (at least 16 bytes)")
	fs.DurationVar(&j.httpGrace, "http-grace", 0, "keep serving the status page this long after the job ends")
	j.output.register(fs)
	j.s3.register(fs)
	fs.StringVar(&j.stateDir, "state-dir", "", "with an s3:// --out, the local directory for the job's lock, journal and scratch files (default: one per output URL under ~/.cache/gomr/jobs)")
	fs.StringVar(&j.columns, "columns", "", "read only these columns of Parquet and Arrow inputs, comma-separated, in this order (default: every column); Map sees each row as the values separated by tabs")
}

// parse parses a job command's flags, checks them, and returns the job
// parameters.
func (j *jobFlags) parse(fs *pflag.FlagSet, args []string) (map[string]string, error) {
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if err := j.check(fs); err != nil {
		return nil, err
	}
	if err := j.s3.configure(fs); err != nil {
		return nil, err
	}
	return parseParams(fs, j.params)
}

// check rejects values the master would otherwise replace by defaults.
func (j *jobFlags) check(fs *pflag.FlagSet) error {
	switch {
	case j.nReduce < 1:
		return usageError(fs, "--nreduce %d: must be at least 1", j.nReduce)
	case j.taskTimeout < 100*time.Millisecond:
		return usageError(fs, "--task-timeout %v: must be at least 100ms", j.taskTimeout)
	case j.workerTimeout != 0 && j.workerTimeout < 100*time.Millisecond:
		return usageError(fs, "--worker-timeout %v: must be at least 100ms", j.workerTimeout)
	case j.maxAttempts < 1:
		return usageError(fs, "--max-attempts %d: must be at least 1", j.maxAttempts)
	case j.skipBad < 0:
		return usageError(fs, "--skip-bad-records %d: must not be negative", j.skipBad)
	case j.mapMemory < 4<<10:
		return usageError(fs, "--map-memory %v: must be at least 4KiB", &j.mapMemory)
	case j.mergeFactor < 2:
		return usageError(fs, "--merge-factor %d: must be at least 2", j.mergeFactor)
	case j.http != "" && !hostPort(j.http):
		return usageError(fs, "--http %s: want host:port, such as 127.0.0.1:8080 or :8080", j.http)
	case j.httpGrace < 0:
		return usageError(fs, "--http-grace %v: must not be negative", j.httpGrace)
	case j.httpGrace > 0 && j.http == "":
		return usageError(fs, "--http-grace needs --http")
	}
	return j.output.check(fs)
}

// hostPort reports whether addr is host:port with a numeric port.
func hostPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	_, err = strconv.ParseUint(port, 10, 16)
	return err == nil
}

// secret reads --secret-file, if given.
func (j *jobFlags) secret() ([]byte, error) {
	if j.secretFile == "" {
		return nil, nil
	}
	return auth.ReadSecret(j.secretFile)
}

func (j *jobFlags) options(fs *pflag.FlagSet, files []string, params map[string]string) master.Options {
	flags := map[string]string{}
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" {
			flags[f.Name] = f.Value.String()
		}
	})
	return master.Options{
		Flags:         flags,
		HTTP:          j.http,
		Output:        j.output.format,
		Compression:   j.output.compression,
		HTTPGrace:     j.httpGrace,
		Inputs:        files,
		NReduce:       j.nReduce,
		OutDir:        j.out,
		TaskTimeout:   j.taskTimeout,
		WorkerTimeout: j.workerTimeout,
		MaxAttempts:   j.maxAttempts,
		NoBackups:     !j.backupTasks,
		Fresh:         j.fresh,
		StateDir:      j.stateDir,
		SplitSize:     int64(j.splitSize),
		MapMemory:     int(j.mapMemory),
		MergeFactor:   j.mergeFactor,
		Params:        params,
		Columns:       format.SplitColumns(j.columns),

		SkipBadRecords: j.skipBad,
	}
}

func masterCmd(ctx context.Context, args []string) error {
	fs := newFlags("master", "[flags] INPUTS...")
	var j jobFlags
	j.register(fs)
	listen := fs.String("listen", mr.DefaultAddr, "address to serve workers on: host:port or unix:/path")
	appFile := fs.String("app", "", "serve this app plugin to workers started without one, and refuse workers running another")
	shipInputs := fs.Bool("ship-inputs", false, "serve the job's input splits to workers, which then need no access to the inputs")
	collectOutput := fs.Bool("collect-output", false, "have reduce workers send their output here, to be written into --out on this host")
	tlsCert := fs.String("tls-cert", "", "serve TLS with this certificate (PEM); needs --tls-key")
	tlsKey := fs.String("tls-key", "", "the private key of --tls-cert (PEM)")
	tlsCA := fs.String("tls-ca", "", "with TLS, require workers to present a certificate signed by this CA (PEM)")
	fs.StringVar(&j.http, "http", "", "serve the status page, its JSON API and Prometheus metrics at host:port; off a loopback address it needs --secret-file")
	params, err := j.parse(fs, args)
	if err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError(fs, "no inputs")
	}
	files, err := inputs.Expand(fs.Args())
	if err != nil {
		return err
	}
	opt := j.options(fs, files, params)
	opt.Listen = *listen
	opt.App = *appFile
	opt.ShipInputs = *shipInputs
	opt.CollectOutput = *collectOutput
	if opt.Secret, err = j.secret(); err != nil {
		return err
	}
	if *tlsCert != "" || *tlsKey != "" || *tlsCA != "" {
		if *tlsCert == "" || *tlsKey == "" {
			return usageError(fs, "TLS needs both --tls-cert and --tls-key")
		}
		if opt.TLS, err = auth.ServerTLS(*tlsCert, *tlsKey, *tlsCA); err != nil {
			return err
		}
	}
	logger := log.New(os.Stderr, "mr master: ", log.Lmicroseconds) // the time, to line events up with workers' -v logs
	opt.Logf = logger.Printf
	m, err := master.New(opt)
	if err != nil {
		return err
	}
	start := time.Now()
	logger.Printf("serving %d input files to workers on %s", len(files), m.Addr())
	if url := m.HTTPURL(); url != "" {
		logger.Printf("status page at %s", url)
	}
	err = m.Run(ctx)
	js := m.Snapshot(master.Query{})
	printCounters(logger.Printf, js)
	if err != nil {
		return err
	}
	logger.Printf("done: %d map and %d reduce tasks in %v; output in %s/mr-out-*", phaseTasks(js, "map"), phaseTasks(js, "reduce"), time.Since(start).Round(time.Millisecond), j.out)
	return nil
}

func workerCmd(ctx context.Context, args []string) error {
	fs := newFlags("worker", "[flags] [APP.so]   (without APP.so, fetch the app from a master started with --app)")
	addr := fs.String("master", mr.DefaultAddr, "master address: host:port or unix:/path")
	connectTimeout := fs.Duration("connect-timeout", 30*time.Second, "exit when the master is unreachable for this long; a master restarted within it finds its workers still there")
	verbose := fs.BoolP("verbose", "v", false, "log every task")
	slots := fs.Int("slots", 1, "tasks to run at once in this process")
	secretFile := fs.String("secret-file", "", "file holding the master's shared secret")
	tlsCA := fs.String("tls-ca", "", "connect with TLS, trusting masters whose certificate this CA (PEM) signed")
	tlsCert := fs.String("tls-cert", "", "with TLS, this worker's certificate (PEM), for a master that asks for one")
	tlsKey := fs.String("tls-key", "", "the private key of --tls-cert (PEM)")
	workDir := fs.String("workdir", "", "keep this worker's map output in this directory and serve it to reducers (default: the master's job directory when this host can see it, else the system's temporary directory)")
	advertise := fs.String("advertise", "", "host name or address other workers reach this one at (default: the --shuffle-listen address if it names one, else this host's address on its connection to the master)")
	shuffleListen := fs.String("shuffle-listen", ":0", "address the server for this worker's map output listens on")
	var s3 s3Flags
	s3.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := s3.configure(fs); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageError(fs, "want at most one APP.so, got %d arguments", fs.NArg())
	}
	if *connectTimeout <= 0 {
		return usageError(fs, "--connect-timeout must be positive")
	}
	if *slots < 1 {
		return usageError(fs, "--slots %d: must be at least 1", *slots)
	}
	if _, _, err := net.SplitHostPort(*advertise); *advertise != "" && err == nil {
		return usageError(fs, "--advertise %s: give a host only; set the port with --shuffle-listen", *advertise)
	}
	if _, _, err := net.SplitHostPort(*shuffleListen); err != nil {
		return usageError(fs, "--shuffle-listen %s: want host:port or :port", *shuffleListen)
	}
	var secret []byte
	if *secretFile != "" {
		var err error
		if secret, err = auth.ReadSecret(*secretFile); err != nil {
			return err
		}
	}
	client, err := workerClient(fs, *addr, *connectTimeout, secret, *tlsCA, *tlsCert, *tlsKey)
	if err != nil {
		return err
	}
	defer client.Close()
	appPath := fs.Arg(0)
	var sum string
	if appPath == "" {
		// The app comes from the master; the plugin stays mapped after
		// its file is gone.
		if appPath, sum, err = worker.FetchApp(ctx, client, "", *connectTimeout); err != nil {
			if errors.Is(err, worker.ErrMasterUnreachable) {
				return fmt.Errorf("%v (is 'mr master' running at %s? pass --master ADDR)", err, *addr)
			}
			return err
		}
		defer os.Remove(appPath)
	} else if sum, err = worker.FileSHA256(appPath); err != nil {
		sum = "" // app.Load names the problem
	}
	a, err := app.Load(appPath)
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" && a.MapEmit != nil {
		// With the streaming Map, a task's live heap is mostly its input
		// and its buffer, both pointer-free and cheap to scan; collecting
		// at 1.5x live rather than 2x keeps a worker's peak near a task's
		// budget. A lab-form Map holds its whole output as a []KeyValue,
		// full of pointers, where collecting more often costs 20% more
		// time for little memory back, so it keeps the default.
		debug.SetGCPercent(50)
	}
	host, _ := os.Hostname()
	opt := worker.Options{
		App:            a,
		Master:         client,
		ID:             fmt.Sprintf("%s-%d-%x", host, os.Getpid(), time.Now().UnixNano()&0xffffff),
		ConnectTimeout: *connectTimeout,
		Slots:          *slots,
		AppSHA256:      sum,
		WorkDir:        *workDir,
		Shuffle:        worker.ShuffleOptions{Listen: *shuffleListen, Advertise: *advertise, Secret: secret},
		LocalHost:      client.LocalHost,
	}
	if *tlsCert != "" && *tlsCA != "" {
		// With a certificate of its own, a worker serves its map output
		// over TLS too, and fetches others' the same way.
		if opt.Shuffle.ServerTLS, err = auth.ServerTLS(*tlsCert, *tlsKey, *tlsCA); err != nil {
			return err
		}
		if opt.Shuffle.ClientTLS, err = auth.ClientTLS("", *tlsCA, *tlsCert, *tlsKey); err != nil {
			return err
		}
	}
	if *verbose {
		opt.Logf = log.New(os.Stderr, "mr worker: ", log.Lmicroseconds).Printf
	}
	if prof := os.Getenv("MR_CPUPROFILE"); prof != "" {
		// For profiling the data plane: MR_CPUPROFILE=/tmp/cpu mr run ...
		f, err := os.Create(fmt.Sprintf("%s.%d", prof, os.Getpid()))
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	err = worker.Run(ctx, opt)
	if errors.Is(err, worker.ErrMasterUnreachable) {
		return fmt.Errorf("%v (is 'mr master' running at %s? pass --master ADDR)", err, *addr)
	}
	return err
}

// workerClient builds the worker's connection to its master from the
// address, secret and TLS flags.
func workerClient(fs *pflag.FlagSet, addr string, connectTimeout time.Duration, secret []byte, tlsCA, tlsCert, tlsKey string) (*worker.Client, error) {
	client, err := worker.NewClient(addr, connectTimeout/2+5*time.Second, secret)
	if err != nil {
		return nil, usageError(fs, "--master: %v", err)
	}
	if tlsCA != "" || tlsCert != "" || tlsKey != "" {
		if tlsCA == "" {
			return nil, usageError(fs, "TLS needs --tls-ca, the CA that signed the master's certificate")
		}
		cfg, err := auth.ClientTLS(serverName(addr), tlsCA, tlsCert, tlsKey)
		if err != nil {
			return nil, err
		}
		client.UseTLS(cfg)
	}
	return client, nil
}

// serverName is the name a worker expects in the master's certificate:
// the host of a TCP address, or localhost for a unix socket.
func serverName(addr string) string {
	network, address, _ := mr.ParseAddr(addr)
	if network == "unix" {
		return "localhost"
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil || host == "" {
		return "localhost"
	}
	return host
}

func seqCmd(ctx context.Context, args []string) error {
	fs := newFlags("seq", "[flags] APP.so INPUTS...")
	out := fs.String("out", ".", "directory for mr-out-0")
	paramList := fs.StringArray("param", nil, "job parameter name=value for the app (mr.Param); repeatable")
	var output outputFlags
	output.register(fs)
	columns := fs.String("columns", "", "read only these columns of Parquet and Arrow inputs, comma-separated (default: every column)")
	var s3 s3Flags
	s3.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := s3.configure(fs); err != nil {
		return err
	}
	if err := output.check(fs); err != nil {
		return err
	}
	params, err := parseParams(fs, *paramList)
	if err != nil {
		return err
	}
	if fs.NArg() < 2 {
		return usageError(fs, "want APP.so and at least one input")
	}
	a, err := app.Load(fs.Arg(0))
	if err != nil {
		return err
	}
	files, err := inputs.Expand(fs.Args()[1:])
	if err != nil {
		return err
	}
	opt := worker.SeqOptions{Params: params, Output: output.format, Compression: output.compression, Columns: format.SplitColumns(*columns)}
	if store.IsURL(*out) {
		return seqToStore(ctx, a, files, *out, opt)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return worker.Sequential(a, files, *out, opt)
}
