module github.com/rechargekit/rechargekit

go 1.24.0
