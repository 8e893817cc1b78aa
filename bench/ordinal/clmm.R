# R's ordinal::clmm on a valuetree ratings CSV, for the side-by-side run with
# `valuetree calibrate --model ordinal-plain`:
#   Rscript clmm.R ratings.csv out.csv
# Fits clmm(score ~ 1 + (1|ratee) + (1|rater), link = "probit") (Laplace approximation) and
# writes person_id,calibrated,std_error: each person's expected score from an average rater,
# sum_k step_k P(step k | ratee effect), its standard error by the delta method from the
# conditional variance of the ratee effect. Prints the fit's time and estimates on stderr.
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(ordinal))
d <- read.csv(args[1], colClasses = "character")
d$score <- factor(as.numeric(d$score), ordered = TRUE)
d$ratee <- factor(d$ratee_id)
d$rater <- factor(d$rater_id)
started <- proc.time()[["elapsed"]]
m <- clmm(score ~ 1 + (1 | ratee) + (1 | rater), data = d, link = "probit")
seconds <- proc.time()[["elapsed"]] - started
steps <- as.numeric(levels(d$score))
cuts <- m$alpha
effect <- ranef(m)$ratee[, 1]
variance <- condVar(m)$ratee[, 1]
expected <- sapply(effect, function(eta) steps[1] + sum(diff(steps) * (1 - pnorm(cuts - eta))))
slope <- sapply(effect, function(eta) sum(diff(steps) * dnorm(cuts - eta)))
out <- data.frame(person_id = rownames(ranef(m)$ratee), calibrated = expected,
                  std_error = slope * sqrt(variance))
write.csv(out, args[2], row.names = FALSE, quote = FALSE)
message(sprintf("clmm: fit %.2f s, %d ratings, %d ratees, %d raters; cuts %s; sd ratee %.4f, rater %.4f",
                seconds, nrow(d), nlevels(d$ratee), nlevels(d$rater),
                paste(sprintf("%.4f", cuts), collapse = " "),
                sqrt(as.numeric(VarCorr(m)$ratee)), sqrt(as.numeric(VarCorr(m)$rater))))
