.PHONY: test demo run build

test:
	scripts/test

demo:
	go run ./cmd/threadline demo

run:
	go run ./cmd/threadline serve

build:
	CGO_ENABLED=0 go build -trimpath -o threadline ./cmd/threadline
