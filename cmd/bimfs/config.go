package main

import (
	"github.com/bimfs/bimfs/mountopts"
)

// loadOptions reads the config file (the default one may be absent) and
// applies an -o string on top.
func loadOptions(configPath, dashO string) (*mountopts.Options, error) {
	var o mountopts.Options
	mustExist := configPath != ""
	if configPath == "" {
		configPath = mountopts.DefaultConfigPath()
	}
	if configPath != "" {
		if err := o.LoadFile(configPath, mustExist); err != nil {
			return nil, usageError{err}
		}
	}
	if dashO != "" {
		if err := o.ParseMountOptions(dashO); err != nil {
			return nil, usageError{err}
		}
	}
	o.Defaults()
	if err := o.Validate(); err != nil {
		return nil, usagef("invalid configuration:\n%v", err)
	}
	return &o, nil
}

// stringList collects repeated -o flags.
type stringList []string

func (s *stringList) String() string { return "" }
func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}
