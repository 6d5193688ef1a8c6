//go:build !unix

package state

import (
	"errors"
	"os"
)

func flock(*os.File) (bool, error) {
	return false, errors.New("state locking is not supported on this operating system")
}
