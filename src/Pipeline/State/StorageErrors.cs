using Microsoft.Data.Sqlite;
using Npgsql;

namespace PaliGemma2.DocPipeline.Pipeline.State;

/// <summary>
/// Tells a database that refused the data (a poison row: only its job should fail) from one that could not be
/// reached (transient: the message must be retried, nothing failed).
/// </summary>
internal static class StorageErrors
{
    // SQLite: 18 TOOBIG, 19 CONSTRAINT, 20 MISMATCH.
    private static readonly int[] SqliteDataErrors = [18, 19, 20];

    public static bool IsRefusedData(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                // Class 22 data exception (22P05 untranslatable character, 22021 bad encoding), 23 integrity, 54 limits.
                case PostgresException pg:
                    return pg.SqlState.StartsWith("22", StringComparison.Ordinal)
                        || pg.SqlState.StartsWith("23", StringComparison.Ordinal)
                        || pg.SqlState.StartsWith("54", StringComparison.Ordinal);
                case SqliteException sqlite:
                    return SqliteDataErrors.Contains(sqlite.SqliteErrorCode);
                case System.Text.EncoderFallbackException or System.Text.Json.JsonException:
                    return true;
            }
        }

        return false;
    }

    public static bool IsUniqueViolation(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException pg:
                    return pg.SqlState == PostgresErrorCodes.UniqueViolation;
                case SqliteException sqlite:
                    // SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY extended codes.
                    return sqlite.SqliteExtendedErrorCode is 2067 or 1555;
            }
        }

        return false;
    }

    public static string Describe(Exception ex)
    {
        var inner = ex;
        while (inner.InnerException is not null && inner is Microsoft.EntityFrameworkCore.DbUpdateException)
        {
            inner = inner.InnerException;
        }

        var text = $"{inner.GetType().Name}: {inner.Message}";
        return text.Length <= 1000 ? text : text[..1000];
    }
}
