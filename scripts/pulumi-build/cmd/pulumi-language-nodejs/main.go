// Command pulumi-language-nodejs is a minimal Node.js language host for the Pulumi engine.
//
// Why it exists: the upstream language host lives in its own Go module
// (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3), which the Go module
// proxy reachable here refuses to serve, so it cannot be built. This host implements the part
// of the LanguageRuntime gRPC protocol that `pulumi preview/up/destroy` need: it runs the
// program with the @pulumi/pulumi SDK's own runner (@pulumi/pulumi/cmd/run) under Node, and
// reports the resource plugins that installed packages declare. Everything else (pack, codegen,
// install, debug attach, RunPlugin) answers Unimplemented, which the engine tolerates or reports.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Exit code @pulumi/pulumi's runner uses after it already printed an actionable message.
const exitAfterUserActionableMessage = 32

// SDK module that runs a program; resolved from the program directory like `require` would.
const runModule = "@pulumi/pulumi/cmd/run"

func main() {
	// The engine may also pass -logtostderr and -v=N; the SDK's logging package (glog) registers those.
	tracing := flag.String("tracing", "", "Zipkin-compatible tracing endpoint passed on to the runner")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Version)
		return
	}

	engineAddress := ""
	if flag.NArg() > 0 {
		engineAddress = flag.Arg(0)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if engineAddress != "" {
		// Exit when the engine goes away instead of lingering as an orphan.
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, cancel); err != nil {
			fatal(fmt.Errorf("health check of engine %q: %w", engineAddress, err))
		}
	}

	stop := make(chan bool)
	go func() { <-ctx.Done(); close(stop) }()

	host := &languageHost{engineAddress: engineAddress, tracing: *tracing}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fatal(fmt.Errorf("start language host gRPC server: %w", err))
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fatal(fmt.Errorf("language host gRPC server stopped: %w", err))
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
	os.Exit(1)
}

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	tracing       string
}

func (h *languageHost) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if h.engineAddress == "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// runOptions are the `runtime.options` of Pulumi.yaml that this host understands.
type runOptions struct {
	typescript   bool
	tsconfigPath string
	nodeArgs     []string
}

func parseRunOptions(raw map[string]any) (runOptions, error) {
	opts := runOptions{typescript: true} // upstream default: run .ts through ts-node
	for key, value := range raw {
		switch key {
		case "typescript":
			b, ok := value.(bool)
			if !ok {
				return opts, fmt.Errorf("runtime.options.typescript: must be a boolean, got %T", value)
			}
			opts.typescript = b
		case "tsconfig":
			s, ok := value.(string)
			if !ok {
				return opts, fmt.Errorf("runtime.options.tsconfig: must be a string path, got %T", value)
			}
			opts.tsconfigPath = s
		case "nodeargs":
			s, ok := value.(string)
			if !ok {
				return opts, fmt.Errorf("runtime.options.nodeargs: must be a string, got %T", value)
			}
			// Whitespace-separated; quoting is not supported by this minimal host.
			opts.nodeArgs = strings.Fields(s)
		case "packagemanager":
			// Only matters for dependency installation, which this host does not do.
		default:
			return opts, fmt.Errorf("runtime.options.%s: unknown option (supported: typescript, tsconfig, nodeargs, packagemanager)", key)
		}
	}
	return opts, nil
}

func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	if info == nil || info.GetProgramDirectory() == "" {
		return &pulumirpc.RunResponse{Error: "run request: info.program_directory must be set"}, nil
	}
	opts, err := parseRunOptions(info.GetOptions().AsMap())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("node: not found on PATH: %v", err)}, nil
	}
	runPath, err := resolveModule(ctx, nodeBin, info.GetProgramDirectory(), runModule)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	configJSON, err := legacyConfigJSON(req.GetConfig())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	args := append([]string{}, opts.nodeArgs...)
	args = append(args, runPath)
	flagIfSet := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	// The SDK talks to the engine's resource monitor directly (no proxy in between).
	flagIfSet("monitor", req.GetMonitorAddress())
	flagIfSet("engine", h.engineAddress)
	flagIfSet("organization", req.GetOrganization())
	flagIfSet("project", req.GetProject())
	flagIfSet("root-directory", info.GetRootDirectory())
	flagIfSet("stack", req.GetStack())
	flagIfSet("pwd", info.GetProgramDirectory())
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	flagIfSet("parallel", fmt.Sprint(req.GetParallel()))
	flagIfSet("tracing", h.tracing)
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	env := append(os.Environ(),
		"PULUMI_CONFIG="+configJSON,
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeysJSON))
	if opts.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if opts.tsconfigPath != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfigPath)
	}

	cmd := exec.CommandContext(ctx, nodeBin, args...)
	cmd.Dir = info.GetProgramDirectory()
	cmd.Env = env
	// Wrapped so exec copies through a pipe: Node may switch a shared fd to non-blocking mode.
	cmd.Stdout = struct{ *os.File }{os.Stdout}
	cmd.Stderr = struct{ *os.File }{os.Stderr}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second

	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == exitAfterUserActionableMessage {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run %s: %v", nodeBin, err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// legacyConfigJSON renders config as the SDK expects it in PULUMI_CONFIG: keys as
// "<namespace>:config:<name>" (the form every @pulumi/pulumi version accepts).
func legacyConfigJSON(cfg map[string]string) (string, error) {
	out := make(map[string]string, len(cfg))
	for k, v := range cfg {
		key, err := config.ParseKey(k)
		if err != nil {
			return "", fmt.Errorf("config key %q: must be <namespace>:<name>: %w", k, err)
		}
		out[key.Namespace()+":config:"+key.Name()] = v
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// resolveModule asks Node where a module resolves from dir, so the program's own copy of the SDK runs it.
func resolveModule(ctx context.Context, nodeBin, dir, module string) (string, error) {
	cmd := exec.CommandContext(ctx, nodeBin, "-e", "console.log(require.resolve(process.argv[1]))", module)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		detail := ""
		if exitErr, ok := err.(*exec.ExitError); ok {
			detail = strings.TrimSpace(string(exitErr.Stderr))
		}
		return "", fmt.Errorf("cannot resolve %s from %s (is @pulumi/pulumi installed there?): %v %s",
			module, dir, err, detail)
	}
	return strings.TrimSpace(string(out)), nil
}

// packageJSON is the part of a package.json that declares a Pulumi resource plugin.
type packageJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Pulumi  *struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"pulumi"`
}

func (h *languageHost) GetRequiredPackages(_ context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		return nil, errors.New("get required packages: info.program_directory must be set")
	}
	pkgs, err := resourcePackages(filepath.Join(dir, "node_modules"))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: pkgs}, nil
}

// resourcePackages lists the resource plugins declared by top-level (and @scope/) packages in node_modules.
func resourcePackages(nodeModules string) ([]*pulumirpc.PackageDependency, error) {
	var dirs []string
	entries, err := os.ReadDir(nodeModules)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read %s: %w", nodeModules, err)
	}
	for _, e := range entries {
		p := filepath.Join(nodeModules, e.Name())
		if strings.HasPrefix(e.Name(), "@") {
			scoped, err := os.ReadDir(p)
			if err != nil {
				continue // a broken scope dir is not ours to fail on
			}
			for _, s := range scoped {
				dirs = append(dirs, filepath.Join(p, s.Name()))
			}
		} else if !strings.HasPrefix(e.Name(), ".") {
			dirs = append(dirs, p)
		}
	}
	sort.Strings(dirs)
	seen := map[string]bool{}
	var out []*pulumirpc.PackageDependency
	for _, d := range dirs {
		raw, err := os.ReadFile(filepath.Join(d, "package.json"))
		if err != nil {
			continue
		}
		var pj packageJSON
		if json.Unmarshal(raw, &pj) != nil || pj.Pulumi == nil || !pj.Pulumi.Resource {
			continue
		}
		name := pj.Pulumi.Name
		if name == "" {
			name = strings.TrimPrefix(pj.Name, "@pulumi/")
		}
		ver := pj.Pulumi.Version
		if ver == "" {
			ver = pj.Version
		}
		if !strings.HasPrefix(ver, "v") {
			ver = "v" + ver
		}
		if seen[name+"@"+ver] {
			continue
		}
		seen[name+"@"+ver] = true
		out = append(out, &pulumirpc.PackageDependency{
			Kind: "resource", Name: name, Version: ver, Server: pj.Pulumi.Server,
		})
	}
	return out, nil
}
