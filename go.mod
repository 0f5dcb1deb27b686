module gomr.dev

go 1.26.8

require (
	github.com/klauspost/compress v1.20.4
	github.com/spf13/pflag v1.0.10
)

require github.com/prometheus/client_golang v1.25.0 // indirect
