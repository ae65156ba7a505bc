package aferofs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// exchange implements Rename with sdk.RenameExchange: oldname and newname
// both exist and swap places.
//
// On the local disk it is renameat2(RENAME_EXCHANGE), atomic for everyone.
// Elsewhere afero has no such call, and the swap is three renames through a
// temporary name in oldname's directory, made while the exchange holds
// renameMu alone, and undone if one fails. It is atomic only for callers
// through this FS: other renames wait for it, and a lookup that misses one
// of the two names during it waits and looks again; a listing made meanwhile
// may show the temporary name, and a process using the same afero.Fs behind
// the mount sees every step.
func (f *FS) exchange(oldname, newname string) error {
	f.renameMu.Lock()
	defer f.renameMu.Unlock()
	oa, _, err := f.statAttr(oldname)
	if err != nil {
		return err
	}
	na, _, err := f.statAttr(newname)
	if err != nil {
		return err
	}
	if oldname == newname {
		return nil
	}
	if strings.HasPrefix(newname, oldname+"/") || strings.HasPrefix(oldname, newname+"/") {
		// renameat2(2): neither may be an ancestor of the other.
		return pathErr("rename", newname, syscall.EINVAL)
	}
	if err := f.swap(oldname, newname, oa.IsDir(), na.IsDir()); err != nil {
		return err
	}
	f.touchCtime(oldname)
	f.touchCtime(newname)
	f.dirChanged(oldname)
	if parentName(newname) != parentName(oldname) {
		f.dirChanged(newname)
	}
	return nil
}

// swap exchanges the two names; renameMu is held alone. Between its renames
// it must not call statAttr (which could wait for this very exchange) nor
// attr (which may take linkMu, held here).
func (f *FS) swap(a, b string, aDir, bDir bool) error {
	if hp := f.hostPath(a); hp != "" {
		err := hostExchange(hp, f.hostPath(b))
		if !errors.Is(err, syscall.EINVAL) && !isUnsupported(err) {
			return err
		}
		// The disk cannot exchange (EINVAL): do it as elsewhere.
	}
	tmp, err := f.exchangeTemp(a)
	if err != nil {
		return err
	}
	f.exchangeGen.Add(1)
	defer f.exchangeGen.Add(1)
	defer f.lockLinks()()
	pa, pb, ta, tb := f.apath(a), f.apath(b), f.apath(tmp), f.apath(b)
	if err := f.fs.Rename(pa, ta); err != nil {
		return err
	}
	if err := f.fs.Rename(pb, pa); err != nil {
		return f.undo(err, a, rename{ta, pa})
	}
	if err := f.fs.Rename(ta, tb); err != nil {
		return f.undo(err, a, rename{pa, pb}, rename{ta, pa})
	}
	if aDir != bDir && parentName(a) != parentName(b) {
		d := 1
		if aDir {
			d = -1
		}
		f.addSubdirs(parentName(a), d)
		f.addSubdirs(parentName(b), -d)
	}
	return nil
}

type rename struct{ from, to string }

// undo takes back the steps of a failed exchange and returns its error.
func (f *FS) undo(err error, name string, steps ...rename) error {
	for _, r := range steps {
		if uerr := f.fs.Rename(r.from, r.to); uerr != nil {
			return errors.Join(err, fmt.Errorf("aferofs: exchange %s: cannot move %s back to %s: %w", name, r.from, r.to, uerr))
		}
	}
	return err
}

// exchangeTemp returns an unused name in the directory of name.
func (f *FS) exchangeTemp(name string) (string, error) {
	dir := parentName(name)
	for range 100 {
		f.exchangeSeq++
		tmp := ".fusekit-exchange-" + strconv.FormatUint(f.exchangeSeq, 10)
		if dir != "." {
			tmp = dir + "/" + tmp
		}
		_, err := f.lstat(f.apath(tmp))
		if isNotExist(err) {
			return tmp, nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("aferofs: exchange %s: no free temporary name in %s: %w", name, dir, syscall.EEXIST)
}
