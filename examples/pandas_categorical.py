"""A pandas DataFrame with numeric and categorical columns: churn of customers in two regions.

Synthetic customers of a telecom operator: labelled ones from the north
region (source) and unlabelled ones from the south (target). The south's
customers are older, richer, call support more often, buy other plans
through other channels and live in other cities: covariate shift, with the
same rule deciding who churns. The city says which region a customer lives
in and nothing about churn, a feature the domain-adversarial features learn
to ignore.

A ``ColumnTransformer`` one-hot encodes the categorical columns
(``handle_unknown="ignore"``: a city never seen maps to all zeros) and
standardises the numeric ones; a ``DANNClassifier`` follows it in a
``Pipeline``. Source and target rows are stacked in one DataFrame, the
target rows labelled with the marker (here the string ``"?"``, since the
labels are strings).

Run: ``python examples/pandas_categorical.py`` (about 20 s on 2 cores) or
``--smoke`` for a few-second check.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skdann import DANNClassifier

NUMERIC = ["age", "income_k", "tenure_months", "support_calls"]
CATEGORICAL = ["plan", "channel", "city"]
REGIONS = {
    #          age  income  tenure  calls  plan (basic, plus, premium)  channel (web, store, phone)
    "north": (38, 35.0, 20.0, 1.0, (0.6, 0.3, 0.1), (0.6, 0.3, 0.1),
              ["Oslo", "Bergen", "Trondheim"]),
    "south": (52, 55.0, 40.0, 2.5, (0.2, 0.4, 0.4), (0.2, 0.3, 0.5),
              ["Seville", "Malaga", "Valencia"]),
}


def make_customers(n: int, region: str, rng: np.random.RandomState, cities=None) -> pd.DataFrame:
    """``n`` customers of ``region`` with their churn label (column ``"churn"``)."""
    age, income, tenure, calls, plan_p, channel_p, region_cities = REGIONS[region]
    df = pd.DataFrame({
        "age": rng.normal(age, 9, n).clip(18, 90).round(),
        "income_k": rng.lognormal(np.log(income), 0.35, n).round(1),
        "tenure_months": rng.exponential(tenure, n).round(),
        "support_calls": rng.poisson(calls, n),
        "plan": pd.Categorical(rng.choice(["basic", "plus", "premium"], n, p=plan_p)),
        "channel": rng.choice(["web", "store", "phone"], n, p=channel_p),
        "city": rng.choice(cities or region_cities, n),
    })
    # The same rule in both regions: unhappy callers on plans too dear for
    # their income leave, long-standing customers stay.
    price = df["plan"].map({"basic": 20.0, "plus": 35.0, "premium": 60.0}).astype(float)
    logit = (1.2 * (df["support_calls"] - 2) + 3.0 * (price / df["income_k"] - 0.8)
             - 0.04 * (df["tenure_months"] - 24) + 0.6 * (df["channel"] == "phone"))
    churn = rng.uniform(size=n) < 1 / (1 + np.exp(-logit))
    df["churn"] = np.where(churn, "churns", "stays")
    return df


def make_pipeline_(**dann_params) -> Pipeline:
    columns = ColumnTransformer([
        ("categories", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL),
        ("numbers", StandardScaler(), NUMERIC),
    ])
    return Pipeline([("columns", columns), ("dann", DANNClassifier(**dann_params))])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny run (a few seconds)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    n, epochs = (80, 2) if args.smoke else (1500, 60)

    rng = np.random.RandomState(0)
    north = make_customers(n, "north", rng)
    south = make_customers(n, "south", rng)
    # Fresh southern customers to evaluate on, some in a city never seen in training.
    south_test = pd.concat([make_customers(n, "south", rng),
                            make_customers(n // 4, "south", rng, cities=["Cadiz"])],
                           ignore_index=True)

    # One stacked DataFrame; the south's labels are hidden behind the marker "?".
    X = pd.concat([north, south], ignore_index=True).drop(columns="churn")
    y = pd.concat([north["churn"], pd.Series("?", index=south.index)], ignore_index=True)
    print(f"{len(north)} labelled northern + {len(south)} unlabelled southern customers; "
          f"columns {list(X.columns)}")

    results = {}
    common = {"max_epochs": epochs, "batch_size": 64, "unlabeled_marker": "?",
              "random_state": 0, "n_threads": 1}
    for name, lambda_max in (("source_only", 0.0), ("dann", 1.0)):
        t = time.perf_counter()
        model = make_pipeline_(lambda_max=lambda_max, **common).fit(X, y)
        pred = model.predict(south_test.drop(columns="churn"))
        results[name] = float(np.mean(pred == south_test["churn"].to_numpy()))
        print(f"  {name:<12} (lambda_max={lambda_max:g}) accuracy on new southern customers "
              f"{results[name]:.3f}   ({time.perf_counter() - t:.1f} s)")

    n_in = len(model[:-1].get_feature_names_out())
    proba = model.predict_proba(south_test.drop(columns="churn").head(3))
    print(f"the ColumnTransformer makes {n_in} columns; classes {list(model.classes_)}; "
          f"first probabilities\n{proba.round(3)}")
    return results


if __name__ == "__main__":
    main()
