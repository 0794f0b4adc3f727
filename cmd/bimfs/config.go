package main

import (
	"github.com/bimfs/bimfs/mountopts"
)

// loadOptions reads the config file (the default one may be absent),
// applies an -o string on top, lets adjust change the result (flags), then
// fills defaults and validates.
func loadOptions(configPath, dashO string, adjust func(*mountopts.Options) error) (*mountopts.Options, error) {
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
	if adjust != nil {
		if err := adjust(&o); err != nil {
			return nil, err
		}
	}
	o.Defaults()
	if err := o.Validate(); err != nil {
		return nil, usagef("invalid configuration:\n%v", err)
	}
	return &o, nil
}
