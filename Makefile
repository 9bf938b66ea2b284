# The two commands of README.md (both delegate to ./dev, which holds the logic).
.PHONY: local test up down status lint bench

local: ## the main job, locally: moto + Tripletex sandbox + the real function binaries
	./dev local

test: ## every test: unit, property, contract, end-to-end against moto and the sandbox, cfn-lint
	./dev test

up: ## the local stack in the background (frontend work); prints its ports
	./dev up

down:
	./dev down

status:
	./dev status

lint:
	./dev lint

bench:
	./dev bench
