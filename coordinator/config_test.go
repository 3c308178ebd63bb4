package coordinator_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/strata-db/strata/coordinator"
)

func TestConfig_Defaults(t *testing.T) {
	c := coordinator.NewConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("NewConfig().Validate(): got %v; want nil", err)
	}
	if c.WriteTimeout.D() != coordinator.DefaultWriteTimeout {
		t.Errorf("WriteTimeout: got %v; want %v", c.WriteTimeout.D(), coordinator.DefaultWriteTimeout)
	}
}

func TestConfig_TOML(t *testing.T) {
	c := coordinator.NewConfig()
	in := "write-timeout = \"3s\"\nrpc-max-body-size = 1048576\nrpc-compression = false\n"
	if _, err := toml.Decode(in, &c); err != nil {
		t.Fatalf("decode TOML: %v", err)
	}
	if c.WriteTimeout.D().String() != "3s" || c.RPCMaxBodySize != 1<<20 || c.RPCCompression {
		t.Errorf("decoded config: got write-timeout %v, rpc-max-body-size %d, rpc-compression %t; want 3s, 1048576, false",
			c.WriteTimeout.D(), c.RPCMaxBodySize, c.RPCCompression)
	}
}

func TestConfig_Validate(t *testing.T) {
	c := coordinator.NewConfig()
	c.WriteTimeout = 0
	c.RPCMaxIdleConnsPerPeer = 0
	c.RPCMaxBodySize = 3
	c.RPCMaxConcurrentWrites = -1
	err := c.Validate()
	if !errors.Is(err, coordinator.ErrInvalidConfig) {
		t.Fatalf("Validate: got %v; want ErrInvalidConfig", err)
	}
	for _, want := range []string{"write-timeout", "rpc-max-idle-conns-per-peer", "rpc-max-body-size", "rpc-max-concurrent-writes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %q does not mention %s", err, want)
		}
	}
}
