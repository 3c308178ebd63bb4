package loadgen

import "testing"

func TestCountFields(t *testing.T) {
	tests := []struct {
		name string
		line string
		want int
	}{
		{"one field", `cpu value=1 10`, 1},
		{"tsbs", `cpu,hostname=host_0,region=eu usage_user=58i,usage_system=2i,usage_idle=24i 1767225600000000000`, 3},
		{"no timestamp", `cpu a=1,b=2`, 2},
		{"escaped space in measurement", `my\ cpu,t=1 a=1,b=2 5`, 2},
		{"escaped space in tag value", `cpu,host=a\ b a=1,b=2,c=3 5`, 3},
		{"escaped comma in field key", `cpu a\,b=1,c=2 5`, 2},
		{"comma and space inside string", `log msg="a, b c",n=1i 5`, 2},
		{"escaped quote inside string", `log msg="say \"hi, there\"",n=1i 5`, 2},
		{"double backslash before space", `cpu\\ a=1,b=2 5`, 2},
		{"no field section", `cpu`, 0},
		{"trailing space only", `cpu `, 0},
		{"two spaces", `cpu  a=1,b=2 5`, 2},
		{"unterminated string", `cpu s="abc,d`, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := countFields([]byte(tc.line)); got != tc.want {
				t.Errorf("countFields(%q) = %d, want %d", tc.line, got, tc.want)
			}
		})
	}
}

func FuzzCountFields(f *testing.F) {
	f.Add([]byte(`cpu,host=a\ b a=1,b="x, y" 5`))
	f.Add([]byte(`\`))
	f.Add([]byte(`" "`))
	f.Fuzz(func(t *testing.T, line []byte) {
		n := countFields(line)
		if n < 0 || n > len(line) {
			t.Fatalf("countFields(%q) = %d, want 0..%d", line, n, len(line))
		}
	})
}
