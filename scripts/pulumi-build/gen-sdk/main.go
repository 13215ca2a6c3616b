// Command vhostnet-gen-sdk writes the Python or Go SDK of a Pulumi package schema.
//
// Why it exists: `pulumi package gen-sdk` hands code generation to the language plugins, and the
// Go module proxy reachable here refuses pulumi-language-python and pulumi-language-go (the
// Node.js host of scripts/pulumi-build answers GeneratePackage not implemented). The generators
// themselves are in pkg/v3 (codegen/python, codegen/go): this calls them on the schema.
//
// Usage: vhostnet-gen-sdk -schema schema.json -language python|go -out DIR
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/blang/semver"
	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	pygen "github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

const tool = "vhostnet-gen-sdk"

func main() {
	schemaPath := flag.String("schema", "", "the package schema (JSON), as the provider's GetSchema answers")
	language := flag.String("language", "", "python or go")
	out := flag.String("out", "", "directory to write the SDK into (its previous content is removed)")
	flag.Parse()
	if *schemaPath == "" || *out == "" || (*language != "python" && *language != "go") {
		fatal(fmt.Errorf("usage: %s -schema schema.json -language python|go -out DIR", tool))
	}
	raw, err := os.ReadFile(*schemaPath)
	if err != nil {
		fatal(err)
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		fatal(fmt.Errorf("%s: not a package schema: %w", *schemaPath, err))
	}
	pkg, diags, err := schema.BindSpec(spec, noPackages{}, schema.ValidationOptions{})
	if err != nil {
		fatal(fmt.Errorf("%s: %w", *schemaPath, err))
	}
	if diags.HasErrors() {
		fatal(fmt.Errorf("%s: %s", *schemaPath, diags.Error()))
	}
	var files map[string][]byte
	switch *language {
	case "python":
		files, err = pygen.GeneratePackage(tool, pkg, map[string][]byte{}, noPackages{})
	case "go":
		files, err = gogen.GeneratePackage(tool, pkg, nil)
	}
	if err != nil {
		fatal(fmt.Errorf("generating the %s SDK: %w", *language, err))
	}
	if err := os.RemoveAll(*out); err != nil {
		fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(*out, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			fatal(err)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			fatal(err)
		}
	}
	fmt.Printf("%s: %d files of the %s SDK in %s\n", tool, len(files), *language, *out)
}

// noPackages loads no other package: the schema references none, and no plugin may be started here.
type noPackages struct{}

func (noPackages) LoadPackage(pkg string, _ *semver.Version) (*schema.Package, error) {
	return nil, fmt.Errorf("the schema references package %q: %s loads no other package", pkg, tool)
}

func (n noPackages) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return n.LoadPackage(d.Name, d.Version)
}

func (noPackages) LoadPackageReference(pkg string, _ *semver.Version) (schema.PackageReference, error) {
	return nil, fmt.Errorf("the schema references package %q: %s loads no other package", pkg, tool)
}

func (n noPackages) LoadPackageReferenceV2(_ context.Context, d *schema.PackageDescriptor) (schema.PackageReference, error) {
	return n.LoadPackageReference(d.Name, d.Version)
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", tool, err)
	os.Exit(1)
}
