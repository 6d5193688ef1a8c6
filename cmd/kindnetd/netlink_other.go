//go:build !linux

package main

import "errors"

var errNotLinux = errors.New("kindnetd manages routes on Linux only")

func listRoutes() ([]Route, error) { return nil, errNotLinux }
func replaceRoute(Route) error     { return errNotLinux }
func deleteRoute(Route) error      { return errNotLinux }
