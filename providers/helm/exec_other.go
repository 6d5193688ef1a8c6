//go:build !linux

package helm

import "syscall"

func workerAttr() *syscall.SysProcAttr { return nil }
