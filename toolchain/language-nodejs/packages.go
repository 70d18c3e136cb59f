package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// packageJSON holds the few package.json fields we look at.
type packageJSON struct {
	Name            string            `json:"name"`
	Version         string            `json:"version"`
	Main            string            `json:"main"`
	Dependencies    map[string]string `json:"dependencies"`
	DevDependencies map[string]string `json:"devDependencies"`
	// Pulumi is the section provider SDKs use to name the plugin they need.
	// It is a raw message because @pulumi/pulumi itself has a "pulumi" object
	// that is not a plugin description.
	Pulumi json.RawMessage `json:"pulumi"`
}

// pulumiSection is the "pulumi" object of a provider SDK's package.json.
type pulumiSection struct {
	Resource         bool   `json:"resource"`
	Name             string `json:"name"`
	Version          string `json:"version"`
	Server           string `json:"server"`
	Parameterization *struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Value   string `json:"value"` // base64, as generated SDKs store it
	} `json:"parameterization"`
}

// pluginRef is one provider plugin a program needs.
type pluginRef struct {
	Name, Version, Server string
	// Set only for parameterized packages (e.g. terraform-provider bridged ones).
	ParamName, ParamVersion string
	ParamValue              []byte
}

// notPlugins are @pulumi/* packages without a "pulumi" section that are
// libraries, not provider SDKs; without this list we would ask the engine
// for nonexistent plugins such as "resource plugin policy".
var notPlugins = map[string]bool{
	"@pulumi/pulumi": true, "@pulumi/policy": true, "@pulumi/query": true,
}

func readPackageJSON(dir string) (*packageJSON, error) {
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return nil, err
	}
	var pj packageJSON
	if err := json.Unmarshal(b, &pj); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "package.json"), err)
	}
	return &pj, nil
}

// pluginFor decides whether an installed package is a provider SDK and, if so,
// which plugin it needs. ok is false for ordinary npm packages.
func pluginFor(pj *packageJSON) (ref pluginRef, ok bool, err error) {
	if len(pj.Pulumi) > 0 {
		var sec pulumiSection
		if err := json.Unmarshal(pj.Pulumi, &sec); err != nil {
			return ref, false, fmt.Errorf("package %s: bad \"pulumi\" section: %w", pj.Name, err)
		}
		if !sec.Resource {
			return ref, false, nil
		}
		ref = pluginRef{Name: sec.Name, Version: sec.Version, Server: sec.Server}
		if ref.Name == "" {
			ref.Name = pluginNameFromPackage(pj.Name)
		}
		if ref.Version == "" {
			ref.Version = pj.Version
		}
		if p := sec.Parameterization; p != nil {
			v, err := base64.StdEncoding.DecodeString(p.Value)
			if err != nil {
				return ref, false, fmt.Errorf("package %s: bad parameterization value: %w", pj.Name, err)
			}
			ref.ParamName, ref.ParamVersion, ref.ParamValue = p.Name, p.Version, v
		}
		return ref, true, nil
	}
	// Old provider SDKs predate the "pulumi" section; their package name is
	// the only hint.
	if strings.HasPrefix(pj.Name, "@pulumi/") && !notPlugins[pj.Name] {
		return pluginRef{Name: pluginNameFromPackage(pj.Name), Version: pj.Version}, true, nil
	}
	return ref, false, nil
}

// pluginNameFromPackage maps "@pulumi/random" to "random".
func pluginNameFromPackage(name string) string {
	if i := strings.LastIndex(name, "/"); i >= 0 {
		return name[i+1:]
	}
	return name
}

// walkPackages calls fn for every package installed under nodeModules,
// including nested node_modules. Symlinked packages (npm link, workspaces)
// are followed, but each real directory is visited once so link cycles end.
func walkPackages(nodeModules string, fn func(dir string, pj *packageJSON) error) error {
	seen := map[string]bool{}
	var walk func(nm string) error
	walk = func(nm string) error {
		entries, err := os.ReadDir(nm)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		var dirs []string
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") { // .bin, .package-lock.json, .cache
				continue
			}
			if strings.HasPrefix(name, "@") {
				scoped, err := os.ReadDir(filepath.Join(nm, name))
				if err != nil {
					continue // a dangling scope is not worth failing a deployment
				}
				for _, s := range scoped {
					dirs = append(dirs, filepath.Join(nm, name, s.Name()))
				}
				continue
			}
			dirs = append(dirs, filepath.Join(nm, name))
		}
		for _, dir := range dirs {
			real, err := filepath.EvalSymlinks(dir)
			if err != nil || seen[real] {
				continue
			}
			seen[real] = true
			pj, err := readPackageJSON(dir)
			if errors.Is(err, fs.ErrNotExist) {
				continue // not a package (e.g. a stray directory)
			} else if err != nil {
				return err
			}
			if err := fn(dir, pj); err != nil {
				return err
			}
			if err := walk(filepath.Join(dir, "node_modules")); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(nodeModules)
}

// requiredPlugins lists, sorted and without duplicates, the provider plugins
// of every package installed under nodeModules.
func requiredPlugins(nodeModules string) ([]pluginRef, error) {
	found := map[string]pluginRef{}
	err := walkPackages(nodeModules, func(_ string, pj *packageJSON) error {
		ref, ok, err := pluginFor(pj)
		if err != nil || !ok {
			return err
		}
		key := strings.Join([]string{ref.Name, ref.Version, ref.Server, ref.ParamName, ref.ParamVersion}, "\x00")
		found[key] = ref
		return nil
	})
	if err != nil {
		return nil, err
	}
	refs := make([]pluginRef, 0, len(found))
	for _, r := range found {
		refs = append(refs, r)
	}
	sort.Slice(refs, func(i, j int) bool {
		a, b := refs[i], refs[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.ParamName < b.ParamName
	})
	return refs, nil
}

// findNodeModules returns the node_modules directory Node would resolve
// packages from for a program in dir: the nearest one in dir or above.
func findNodeModules(dir string) (string, bool) {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		nm := filepath.Join(d, "node_modules")
		if st, err := os.Stat(nm); err == nil && st.IsDir() {
			return nm, true
		}
		if parent := filepath.Dir(d); parent == d {
			return "", false
		}
	}
}

// dependency is one entry of GetProgramDependencies.
type dependency struct{ Name, Version string }

// programDependencies lists installed npm packages: with transitive, every
// package under node_modules; otherwise only those named in the program's
// package.json (what `pulumi about` shows by default).
func programDependencies(programDir string, transitive bool) ([]dependency, error) {
	nm, ok := findNodeModules(programDir)
	if !ok {
		return nil, fmt.Errorf("no node_modules found for %s; run `npm ci` first", programDir)
	}
	var direct map[string]bool
	if !transitive {
		pj, err := readPackageJSON(filepath.Dir(nm))
		if err != nil {
			return nil, err
		}
		direct = map[string]bool{}
		for n := range pj.Dependencies {
			direct[n] = true
		}
		for n := range pj.DevDependencies {
			direct[n] = true
		}
	}
	seen := map[dependency]bool{}
	var deps []dependency
	err := walkPackages(nm, func(dir string, pj *packageJSON) error {
		d := dependency{pj.Name, pj.Version}
		// Direct dependencies are the top-level copies; a nested copy with
		// the same name belongs to some other package.
		rel, _ := filepath.Rel(nm, dir)
		if direct != nil && (!direct[pj.Name] || strings.Contains(rel, "node_modules")) {
			return nil
		}
		if !seen[d] {
			seen[d] = true
			deps = append(deps, d)
		}
		return nil
	})
	sort.Slice(deps, func(i, j int) bool {
		if deps[i].Name != deps[j].Name {
			return deps[i].Name < deps[j].Name
		}
		return deps[i].Version < deps[j].Version
	})
	return deps, err
}
