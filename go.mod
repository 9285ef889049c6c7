module github.com/moor-dev/moor

go 1.26.8
