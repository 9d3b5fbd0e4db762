using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace PaliGemma2.DocPipeline.Pipeline.Intake;

/// <summary>Recognises a unique-key violation on either provider: the signal that a concurrent writer won.</summary>
internal static class UniqueViolation
{
    private const int SqliteConstraint = 19;

    public static bool Is(DbUpdateException ex) => ex.InnerException switch
    {
        PostgresException pg => pg.SqlState == PostgresErrorCodes.UniqueViolation,
        SqliteException sqlite => sqlite.SqliteErrorCode == SqliteConstraint,
        _ => false,
    };
}
