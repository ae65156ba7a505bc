package main

// Configuration names, as the table and -only see them.
const (
	cfgLatencyWT = "latency/write-through"
	cfgLatencyWB = "latency/write-back"
	cfgDiskWT    = "latency-disk/write-through"
	cfgDiskWB    = "latency-disk/write-back"
	cfgSFTPWT    = "sftp/write-through"
	cfgSFTPWB    = "sftp/write-back"
	cfgRclone    = "rclone/vfs-writes"
	// The write-back rows again with a crash-safe journal
	// (writeback.Options.Journal) in the bench's work directory.
	cfgLatencyJ = "latency/write-back+journal"
	cfgDiskJ    = "latency-disk/write-back+journal"
	cfgSFTPJ    = "sftp/write-back+journal"
)

// backend says which server process a configuration runs.
type backend int

const (
	latencyBackend backend = iota // examples/memfs -latency D
	diskBackend                   // fusekit-wbbench serve -local DIR -latency D
	sftpBackend                   // fusekit-wbbench serve -sftp-addr ...
	rcloneBackend                 // rclone mount
)

// slow reports whether every call to the backend sleeps -latency.
func (b backend) slow() bool { return b == latencyBackend || b == diskBackend }

// configSpec is one filesystem setup.
type configSpec struct {
	name      string
	backend   backend
	writeback bool
	journal   bool // with a write-back journal
}

var configs = []configSpec{
	{cfgLatencyWT, latencyBackend, false, false},
	{cfgLatencyWB, latencyBackend, true, false},
	{cfgLatencyJ, latencyBackend, true, true},
	{cfgDiskWT, diskBackend, false, false},
	{cfgDiskWB, diskBackend, true, false},
	{cfgDiskJ, diskBackend, true, true},
	{cfgSFTPWT, sftpBackend, false, false},
	{cfgSFTPWB, sftpBackend, true, false},
	{cfgSFTPJ, sftpBackend, true, true},
	{cfgRclone, rcloneBackend, false, false},
}

// workload is one way of copying the source file into the mount.
type workload struct {
	name string
	argv func(src, dst string) []string
}

var workloads = []workload{
	{"cp", func(src, dst string) []string { return []string{"cp", src, dst} }},
	{"dd-4k", func(src, dst string) []string { return []string{"dd", "if=" + src, "of=" + dst, "bs=4k"} }},
}

// row is one measurement to make.
type row struct {
	config   configSpec
	workload workload
	size     int64
}

func (r row) id() string { return r.config.name + " " + r.workload.name }

// plan lists the rows -only selects, in table order. The write-through
// dd-4k rows of the latency backends, which make one slow call per 4 KiB,
// copy wtLatencySize bytes instead of size.
func plan(only filter, size, wtLatencySize int64) []row {
	var rows []row
	for _, c := range configs {
		for _, w := range workloads {
			r := row{config: c, workload: w, size: size}
			if c.backend.slow() && !c.writeback && w.name == "dd-4k" {
				r.size = wtLatencySize
			}
			if only.match(r.id()) {
				rows = append(rows, r)
			}
		}
	}
	return rows
}

// rowNames lists every row, for the error when -only matches none.
func rowNames() []string {
	var names []string
	for _, r := range plan(nil, 1, 1) {
		names = append(names, r.id())
	}
	return names
}
