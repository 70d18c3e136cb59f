# Sourced by the integration scripts: new_project NAME NODE_MODULES makes the current directory a TypeScript
# Pulumi project (the program, index.ts, is the caller's).
new_project() {
    ln -s "$2" node_modules
    printf 'name: %s\nruntime: nodejs\n' "$1" > Pulumi.yaml
    echo "{ \"name\": \"$1\", \"main\": \"index.ts\" }" > package.json
    echo '{ "compilerOptions": { "strict": true, "target": "ES2020", "module": "commonjs", "esModuleInterop": true, "skipLibCheck": true }, "files": ["index.ts"] }' > tsconfig.json
}
