"""Money: text in, amounts out.

``amounts`` finds each sum with its value and currency (digits of any script, magnitude words
such as مليون or billion, ranges and approximations); ``scan`` finds where one may start;
``words`` holds the number, magnitude and currency words of each language; ``rates`` converts
between currencies with the ECB reference rates (a shipped table in ``data/``).
"""
