module github.com/fusekit/fusekit

go 1.26.8

require (
	github.com/pkg/sftp v1.13.12
	github.com/spf13/afero v1.15.0
	github.com/stretchr/testify v1.12.1
	github.com/winfsp/cgofuse v1.6.0
	golang.org/x/crypto v0.58.0
	golang.org/x/sys v0.49.0
)

require (
	github.com/kr/fs v0.1.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/text v0.43.0 // indirect
)
